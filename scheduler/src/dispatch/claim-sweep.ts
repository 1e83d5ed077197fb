import type { Job } from "@hil/contracts";
import type { SchedulerContext } from "../context.js";
import type { Claim } from "../leases/lease-store.js";
import { pendingScore, type RunPlan } from "../store/run-store.js";

/** A claim younger than this may still be in the hands of a live dispatcher (two round trips away from done). */
export const CLAIM_STALE_MS = 5000;

export function jobIdOf(runId: string, attempt: number): string {
  return `${runId}-a${attempt}`;
}

/** Adds a claim's job to its agent's queue. Idempotent: BullMQ ignores a second add with the same job id. */
export async function enqueueClaim(ctx: SchedulerContext, runId: string, plan: RunPlan, claim: Claim): Promise<void> {
  const job: Job = {
    runId,
    attempt: claim.attempt,
    suite: plan.suite,
    boards: claim.boards,
    artifacts: plan.artifacts,
    timeoutMs: plan.timeoutMs,
    leaseToken: claim.token,
  };
  await ctx.queues.get(claim.agent).add("run", job, { jobId: jobIdOf(runId, claim.attempt), removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } });
}

/**
 * Finishes or undoes claims whose dispatcher stopped between the lease script and the enqueue (killed,
 * or Redis went away): found through the intent the lease script records with every claim. A claim never
 * marked on its run goes back to pending (its leases may have expired meanwhile, and a fresh claim is
 * cheap); one marked leased gets its job added again under the same job id. Safe on every replica.
 */
export class ClaimSweep {
  constructor(private readonly ctx: SchedulerContext) {}

  async sweep(now: number): Promise<void> {
    const { redis, keys } = this.ctx;
    const raw = await redis.zrangebyscore(keys.claimIntents(), "-inf", now - CLAIM_STALE_MS, "WITHSCORES", "LIMIT", 0, 200);
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const id = raw[i] ?? "";
      const at = Number(raw[i + 1]);
      try {
        await this.settle(id, at);
      } catch (err) {
        this.ctx.log.error({ err, run: id }, "could not finish a claim left by a stopped dispatcher; retrying next tick");
      }
    }
  }

  private async settle(id: string, at: number): Promise<void> {
    const { redis, keys, leases } = this.ctx;
    const s = await this.ctx.runs.get(id);
    const claim = s?.claim;
    if (!s || !claim || claim.at !== at) {
      // the run or its claim is gone (pruned, or given back already): only the intent is left
      if ((await redis.zscore(keys.claimIntents(), id)) === String(at)) await redis.zrem(keys.claimIntents(), id);
      return;
    }
    const submitter = s.run.submitter;
    const marked = s.run.attempts.some((a) => a.attempt === claim.attempt);
    if (!marked && s.run.state === "queued") {
      if (await leases.abandonClaim(id, claim, submitter, s.version, pendingScore(s.run.request.priority, s.run.createdAt))) {
        this.ctx.log.warn({ run: id, agent: claim.agent }, "a claim was never enqueued (its scheduler stopped in between): the run is queued again");
        this.ctx.wake(true);
      }
      return;
    }
    if (!marked) {
      // ended (cancelled) before the dispatcher marked it: nobody else releases this claim
      if (await leases.settleClaim(id, claim, submitter, "settle")) this.ctx.wake(true);
      return;
    }
    if (s.run.state === "leased") {
      const plan = await this.ctx.runs.plan(id);
      if (plan) await enqueueClaim(this.ctx, id, plan, claim);
      this.ctx.log.warn({ run: id, agent: claim.agent }, "a leased run's job was added again (its scheduler stopped before it was sure)");
    }
    await leases.settleClaim(id, claim, submitter, "drop");
  }
}
