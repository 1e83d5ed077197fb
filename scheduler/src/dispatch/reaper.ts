import type { Run } from "@hil/contracts";
import { leaseTokenHash, parseLease, type Claim } from "../leases/lease-store.js";
import type { SchedulerContext } from "../context.js";
import { isTerminal } from "../store/run-store.js";
import { ClaimSweep } from "./claim-sweep.js";
import { CONSUMER_GROUP } from "./event-consumer.js";
import { runsWithUnappliedEvents } from "./unapplied-events.js";
import { QueueTimeouts } from "./queue-timeouts.js";
import type { RunLifecycle } from "./run-lifecycle.js";

/**
 * Finds claimed runs whose agent went silent (no lease left with the claim's token: it died or lost
 * Redis) and runs past their timeout. Safe on every replica at once: outcomes go through the
 * run-store compare-and-set, so one replica wins each change.
 */
export class Reaper {
  private readonly claims: ClaimSweep;
  private readonly queueTimeouts: QueueTimeouts;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly lifecycle: RunLifecycle,
  ) {
    this.claims = new ClaimSweep(ctx);
    this.queueTimeouts = new QueueTimeouts(ctx, lifecycle);
  }

  private lastPrune = 0;

  async sweep(now = Date.now()): Promise<void> {
    // from the sweep's first Redis command: during a freeze, that is the one that hangs
    const began = Date.now();
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      await this.ctx.runs.prune(now - this.ctx.config.retentionMs);
      await this.ctx.bookings.prune(now, this.ctx.config.bookingRetentionMs);
    }
    await this.claims.sweep(now);
    await this.queueTimeouts.sweep(now);
    const { redis, keys } = this.ctx;
    const ids = await redis.zrange(keys.activeRuns(), "0", "999");
    if (ids.length === 0) {
      this.ctx.outages.waited(began, Date.now());
      await this.ctx.boardLogs.sweep(now);
      return this.lifecycle.resumeFiles(now);
    }
    // one round trip for the runs, one for their leases; the CAS in RunLifecycle re-checks before acting
    const pipe = redis.pipeline();
    for (const id of ids) pipe.hmget(keys.run(id), "json", "claim");
    const rows = ((await pipe.exec()) ?? []).map((r) => r[1] as (string | null)[] | undefined);
    const seen: { id: string; run: Run; claim: Claim; timeoutMs: number }[] = [];
    for (const [i, id] of ids.entries()) {
      const f = rows[i];
      if (!f?.[0]) continue;
      const run = JSON.parse(f[0]) as Run;
      if (isTerminal(run.state)) {
        await redis.zrem(keys.activeRuns(), id);
        continue;
      }
      if (run.state === "queued" || !f[1]) continue;
      const claim = JSON.parse(f[1]) as Claim;
      seen.push({ id, run, claim, timeoutMs: claim.timeoutMs ?? Number.POSITIVE_INFINITY });
    }
    const leaseKeys = seen.flatMap((s) => Object.values(s.claim.boards).map((b) => keys.lease(b)));
    const raws = leaseKeys.length ? await redis.mget(...leaseKeys) : [];
    // reads that hung this long mean Redis did not answer (frozen, restarting): see RedisOutageWatch
    this.ctx.outages.waited(began, Date.now());
    // disk work after the measurement: a slow disk is no Redis outage
    await this.lifecycle.archiveLogs(seen.filter((s) => s.run.state === "running").map((s) => s.id));
    await this.ctx.boardLogs.sweep(now);
    await this.lifecycle.resumeFiles(now);
    let k = 0;
    let unapplied: Set<string> | "all" | undefined;
    for (const { id, run, claim, timeoutMs } of seen) {
      const boardIds = Object.values(claim.boards);
      const mine = raws.slice(k, k + boardIds.length);
      k += boardIds.length;
      if (run.startedAt !== undefined && now > run.startedAt + timeoutMs + this.ctx.config.timeoutGraceMs) {
        await this.lifecycle.stop(id, "timed-out", `the run exceeded its timeout of ${Math.round(timeoutMs / 1000)} s`);
        continue;
      }
      const hash = leaseTokenHash(claim.token);
      const held = mine.some((r) => parseLease(r)?.tokenHash === hash);
      if (held) continue;
      // an event of this run still waiting in the stream (a scheduler died holding it, or this one just started)
      // may be its job-finished: the run may have ended, so nothing is declared lost until it is applied
      unapplied ??= await runsWithUnappliedEvents(redis, keys, CONSUMER_GROUP);
      if (unapplied === "all" || unapplied.has(id)) continue;
      // The reads above are only a filter: the decision is made again in one step with the write
      // (`onlyIfLost`), so a replica that ends the run cleanly in between always wins.
      const lost = await this.lifecycle.finished(
        {
          runId: id,
          attempt: claim.attempt,
          outcome: "error",
          steps: run.steps,
          cases: run.cases,
          error: {
            code: "AGENT_LOST",
            message: this.ctx.outages.recent()
              ? `the leases of ${boardIds.join(", ")} (agent ${claim.agent}) expired while Redis did not answer`
              : `agent ${claim.agent} stopped renewing the leases of ${boardIds.join(", ")}`,
          },
          durationMs: Math.max(0, now - claim.at),
        },
        { onlyIfLost: true },
      );
      if (!lost) continue;
      this.ctx.log.warn({ run: id, agent: claim.agent }, "leases expired: the agent died or lost Redis; retrying the run elsewhere");
      await this.ctx.queues.remove(claim.agent, `${id}-a${claim.attempt}`);
    }
  }
}
