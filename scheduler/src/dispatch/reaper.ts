import { LeaseSchema } from "../leases/lease-store.js";
import type { SchedulerContext } from "../context.js";
import { isTerminal } from "../store/run-store.js";
import type { RunLifecycle } from "./run-lifecycle.js";

/**
 * Finds claimed runs whose agent went silent (no lease left with the claim's token: it died or lost
 * Redis) and runs past their timeout. Safe on every replica at once: outcomes go through the
 * run-store compare-and-set, so one replica wins each change.
 */
export class Reaper {
  constructor(
    private readonly ctx: SchedulerContext,
    private readonly lifecycle: RunLifecycle,
  ) {}

  private lastPrune = 0;

  async sweep(now = Date.now()): Promise<void> {
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      await this.ctx.runs.prune(now - this.ctx.config.retentionMs);
    }
    const ids = await this.ctx.redis.zrange(this.ctx.keys.activeRuns(), "0", "999");
    for (const id of ids) {
      const s = await this.ctx.runs.get(id);
      if (!s || isTerminal(s.run.state) || s.run.state === "queued") {
        if (s && isTerminal(s.run.state)) await this.ctx.redis.zrem(this.ctx.keys.activeRuns(), id);
        continue;
      }
      const claim = s.claim;
      if (!claim) continue;
      const plan = await this.ctx.runs.plan(id);
      if (plan && s.run.startedAt !== undefined && now > s.run.startedAt + plan.timeoutMs + this.ctx.config.timeoutGraceMs) {
        await this.lifecycle.stop(id, "timed-out", `the run exceeded its timeout of ${Math.round(plan.timeoutMs / 1000)} s`);
        continue;
      }
      const boardIds = Object.values(claim.boards);
      const raws = await this.ctx.redis.mget(...boardIds.map((b) => this.ctx.keys.lease(b)));
      const held = raws.some((r) => r !== null && LeaseSchema.safeParse(JSON.parse(r)).data?.token === claim.token);
      if (held) continue;
      this.ctx.log.warn({ run: id, agent: claim.agent }, "leases expired: the agent died or lost Redis; retrying the run elsewhere");
      await this.ctx.queues.remove(claim.agent, `${id}-a${claim.attempt}`);
      await this.lifecycle.finished({
        runId: id,
        attempt: claim.attempt,
        outcome: "error",
        steps: s.run.steps,
        cases: s.run.cases,
        error: { code: "AGENT_LOST", message: `agent ${claim.agent} stopped renewing the leases of ${boardIds.join(", ")}` },
        durationMs: Math.max(0, now - claim.at),
      });
    }
  }
}
