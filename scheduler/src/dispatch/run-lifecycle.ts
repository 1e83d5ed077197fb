import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES, toJUnitXml, type JobResult, type LogLine, type Run } from "@hil/contracts";
import type { SchedulerContext } from "../context.js";
import { leaseTokenHash, type Claim } from "../leases/lease-store.js";
import { RunLogArchive } from "../logs/run-log-archive.js";
import { markLogGaps } from "../logs/run-log-gaps.js";
import { decodeLogLine } from "../logs/run-log-pages.js";
import { isTerminal, pendingScore, type RunChange, type StoredRun } from "../store/run-store.js";

const CURRENT = (s: StoredRun) => s.run.attempts[s.run.attempts.length - 1];

/** Who reports on a run: an agent event names its (verified) agent and the hash of the lease token it ran under. */
export interface Reporter {
  agent: string;
  leaseHash: string;
}

/** True when the report comes from the run's current claim: same attempt, same agent, same lease token. */
function fromClaim(s: StoredRun, attempt: number, by: Reporter): boolean {
  return madeUnder(s.claim, attempt, by);
}

function madeUnder(c: Claim | undefined, attempt: number, by: Reporter): boolean {
  return c !== undefined && c.attempt === attempt && c.agent === by.agent && leaseTokenHash(c.token) === by.leaseHash;
}

/** One mkdir in the common case (the parent exists); the whole path only the first time. */
function makeRunDir(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return;
    if (code !== "ENOENT") throw err;
    mkdirSync(dir, { recursive: true });
  }
}

/** A file that is either complete or absent (a full disk fails the temp file, never leaves half a log). */
function writeWhole(file: string, data: string): void {
  const tmp = `${file}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** How long a run's files may stay owed before the reaper writes them (the process that ended the run normally does at once). */
const FILES_RETRY_MS = 60_000;

function isInfraCode(code: string | undefined): boolean {
  if (code === undefined) return true;
  return code in ERROR_CODES ? ERROR_CODES[code as keyof typeof ERROR_CODES].infra : true;
}

/**
 * Every run state change after dispatch: outcomes from agents, retries, cancel, timeout, and what
 * happens once a run ends (leases released, JUnit and log written).
 */
export class RunLifecycle {
  private readonly writing = new Set<Promise<void>>();
  private readonly archive: RunLogArchive;

  constructor(private readonly ctx: SchedulerContext) {
    this.archive = new RunLogArchive(ctx.redis, ctx.keys, (id) => ctx.artifacts.runDir(id));
  }

  /** Copies long running runs' log streams to their archive files (a tick of the reaper), ahead of any cap. */
  async archiveLogs(runIds: readonly string[]): Promise<void> {
    await this.archive.sweep(runIds);
  }

  /**
   * Run files are written in the background so the event consumer reads the next events (and frees
   * the next boards) without waiting for the disk; `drain()` waits for them on shutdown.
   */
  private afterEnd(run: Run): void {
    this.ctx.metrics.runEnded(run);
    this.ctx.webhooks.runEnded(run);
    const p = this.writeFiles(run)
      .catch((err: unknown) => this.ctx.log.error({ err, run: run.id }, "could not write the run's JUnit/log files (full disk?); the reaper tries again"))
      .finally(() => this.writing.delete(p));
    this.writing.add(p);
  }

  /**
   * Run files still owed: the run's id joined `filesPending()` in the same step as its final state, so a
   * scheduler that died before writing them, or a disk that was full, leaves it there. Each entry is
   * retried a minute after its last try (the owning process normally writes them at once).
   */
  async resumeFiles(now: number): Promise<void> {
    const { redis, keys } = this.ctx;
    const ids = await redis.zrangebyscore(keys.filesPending(), "-inf", now - FILES_RETRY_MS, "LIMIT", 0, 20);
    for (const id of ids) {
      const s = await this.ctx.runs.get(id);
      if (!s || !isTerminal(s.run.state)) {
        await redis.zrem(keys.filesPending(), id);
        continue;
      }
      try {
        await this.writeFiles(s.run);
        this.ctx.log.info({ run: id }, "wrote the run's files left over from an earlier failure");
      } catch (err) {
        await redis.zadd(keys.filesPending(), now, id);
        this.ctx.log.error({ err, run: id }, "still cannot write the run's JUnit/log files; check the artifact directory (full disk?)");
      }
    }
  }

  async drain(): Promise<void> {
    while (this.writing.size > 0) await Promise.all([...this.writing]);
  }

  async started(runId: string, attempt: number, at: number, by: Reporter): Promise<void> {
    let foreign = false;
    await this.ctx.runs.update(runId, (cur) => {
      foreign = false;
      const a = CURRENT(cur);
      if (cur.run.state !== "leased" || !a || a.attempt !== attempt) return null;
      if ((foreign = !fromClaim(cur, attempt, by))) return null;
      const run: Run = { ...cur.run, state: "running", startedAt: cur.run.startedAt ?? at };
      run.attempts = [...cur.run.attempts.slice(0, -1), { ...a, startedAt: at }];
      return { run, pending: null };
    });
    if (foreign) this.refused("job-started", runId, attempt, by);
  }

  async stepFinished(runId: string, attempt: number, step: Run["steps"][number], by: Reporter): Promise<void> {
    let foreign = false;
    await this.ctx.runs.update(runId, (cur) => {
      foreign = false;
      const a = CURRENT(cur);
      // Only while the attempt runs: a queued run is one the reaper gave up on (the agent reports late, e.g.
      // after a Redis stall), and this write would take it out of pending with nobody left to put it back.
      if ((cur.run.state !== "leased" && cur.run.state !== "running") || !a || a.attempt !== attempt) return null;
      if ((foreign = !fromClaim(cur, attempt, by))) return null;
      if (cur.run.steps.some((s) => s.index === step.index)) return null;
      return { run: { ...cur.run, steps: [...cur.run.steps, step] }, pending: null };
    });
    if (foreign) this.refused("step-finished", runId, attempt, by);
  }

  private refused(what: string, runId: string, attempt: number, by: Reporter): void {
    this.ctx.log.warn(
      { run: runId, attempt, agent: by.agent },
      `ignored ${what}: it does not come from the run's current claim (another agent, or another lease token)`,
    );
  }

  /**
   * An attempt ended (agent report, or the reaper's AGENT_LOST with `onlyIfLost`): final outcome or a
   * retry. Returns whether this call changed the run. A report for an attempt that is no longer the
   * run's current, running one (the reaper already gave up on it, or it was retried) changes nothing.
   */
  async finished(result: JobResult, opts: { onlyIfLost?: boolean; by?: Reporter } = {}): Promise<boolean> {
    const now = Date.now();
    let retry = false;
    let foreign = false;
    // one deadline, whoever noticed it first: the agent's runner reports it as RUN_TIMEOUT, the reaper as timed-out
    const timedOut = result.outcome !== "pass" && result.error?.code === "RUN_TIMEOUT";
    const infra = result.outcome === "error" && !timedOut && isInfraCode(result.error?.code);
    const decide = (cur: StoredRun): RunChange | null => {
      foreign = false;
      const a = CURRENT(cur);
      if (isTerminal(cur.run.state) || !a || a.attempt !== result.attempt) return null;
      if (cur.run.state === "queued") return null;
      const c = cur.claim;
      const claimed = c !== undefined && c.attempt === result.attempt;
      // An agent's report counts only under the claim it names (the reaper's has no reporter).
      if (opts.by && (foreign = !fromClaim(cur, result.attempt, opts.by))) return null;
      // The reaper acts only on the claim it saw and only while no lease holds its token (checked in the write).
      if (opts.onlyIfLost && !claimed) return null;
      const attempt = { ...a, endedAt: now, outcome: result.outcome, ...(result.error ? { error: result.error } : {}) };
      const run: Run = { ...cur.run, attempts: [...cur.run.attempts.slice(0, -1), attempt], steps: result.steps, cases: result.cases };
      const max = Math.min(cur.run.request.maxAttempts, this.ctx.config.maxAttempts);
      let change: RunChange;
      retry = false;
      if (infra && cur.run.attempts.length < max) {
        retry = true;
        run.state = "queued";
        run.boards = {};
        run.waitingFor = `retrying after ${result.error?.code ?? "an infrastructure error"} on ${Object.values(a.boards).join(", ")}`;
        // try other boards first; the run may still come back to these when no other board fits
        const exclude = [...new Set([...cur.exclude, ...Object.values(a.boards)])];
        change = { run, pending: pendingScore(cur.run.request.priority, cur.run.createdAt), active: "inactive", exclude };
      } else if (timedOut) {
        run.state = "timed-out";
        run.endedAt = now;
        if (result.error) run.error = result.error;
        change = { run, pending: null };
      } else {
        run.state = result.outcome === "pass" ? "passed" : result.outcome === "fail" ? "failed" : result.outcome === "cancelled" ? "cancelled" : "error";
        run.endedAt = now;
        if (result.error) run.error = result.error;
        change = { run, pending: null };
      }
      if (claimed && c) {
        const boardIds = Object.values(c.boards);
        if (opts.onlyIfLost) change.leases = { mode: "lost", boardIds, token: c.token, submitter: cur.run.submitter };
        // A board that may need quarantine first (infra) is freed only after the health bookkeeping; the
        // submitter's usage drops with the state all the same (a process killed in between leaves no count behind).
        else change.leases = { mode: infra ? "usage" : "release", boardIds, token: c.token, submitter: cur.run.submitter };
      }
      return change;
    };
    const res = await this.ctx.runs.update(result.runId, decide);
    if (foreign && opts.by) this.refused("job-finished", result.runId, result.attempt, opts.by);
    if (!res) return opts.by ? this.lateOutcome(result, opts.by) : false;
    const before = res.before;
    const boardIds = Object.values(CURRENT(before)?.boards ?? {});
    // Free the boards first: a waiting run should not wait for health bookkeeping or file writes.
    // A failure right after Redis stopped answering is put down to Redis: the boards keep their health.
    const outage = infra && this.ctx.outages.recent();
    if (infra) this.ctx.metrics.infraFailure(result.error?.code);
    if (outage) this.ctx.log.warn({ run: result.runId, boards: boardIds }, "infrastructure failure during a Redis outage: not charged to the boards' health");
    // a health check's outcome is judged by BoardHealth: it never counts for or against the board here
    const charged = before.run.purpose !== "health-check";
    let quarantined: string[] = [];
    if (infra && !outage && charged) {
      quarantined = await this.ctx.boards.recordInfraFailure(boardIds, this.ctx.config.quarantineAfter, result.error?.message ?? "error");
      for (const id of quarantined) this.ctx.log.warn({ board: id }, "board quarantined after repeated infrastructure failures");
    }
    if (!res.change.leases) await this.releaseClaim(before);
    else if (res.change.leases.mode === "usage") await this.ctx.leases.release(res.change.leases.boardIds, res.change.leases.token);
    this.ctx.wake(infra);
    if (infra && !outage && charged && this.ctx.health) {
      const message = `${result.error?.code ?? "error"}: ${result.error?.message ?? "infrastructure error"}`;
      await this.ctx.health
        .afterInfraFailure(boardIds, quarantined, message, result.runId)
        .catch((err: unknown) => this.ctx.log.error({ err, run: result.runId }, "could not record the infrastructure failure in the boards' history"));
    }
    if ((result.outcome === "pass" || result.outcome === "fail") && charged) await this.ctx.boards.recordCleanRun(boardIds);
    if (!retry) this.afterEnd(res.after);
    return true;
  }

  /**
   * A pass or fail for an attempt the reaper declared lost (AGENT_LOST): its leases lapsed while the agent could
   * not reach Redis (a stall, a partition), and the report arrives once it can. The agent sends a test outcome only
   * if it was decided before its own lease deadline (later ones become LEASE_LOST), so the test ran on boards held
   * under that claim: the result stands. The run ends with it, and the retry the reaper queued is withdrawn, or
   * stopped if it already runs, instead of executing the test a second time. Checked against the lost claim
   * (agent and lease token), never against a later one. Returns whether the run changed.
   */
  private async lateOutcome(result: JobResult, by: Reporter): Promise<boolean> {
    if (result.outcome !== "pass" && result.outcome !== "fail") return false;
    const now = Date.now();
    let superseded: Claim | undefined;
    const res = await this.ctx.runs.update(result.runId, (cur) => {
      superseded = undefined;
      if (isTerminal(cur.run.state) || !madeUnder(cur.lostClaim, result.attempt, by)) return null;
      const lost = cur.run.attempts.find((a) => a.attempt === result.attempt);
      if (lost?.error?.code !== "AGENT_LOST") return null;
      const retryRuns = cur.run.state === "leased" || cur.run.state === "running";
      const c = cur.claim;
      if (retryRuns && c && c.attempt > result.attempt) superseded = c;
      const attempts = cur.run.attempts.map((a) => {
        if (a.attempt === result.attempt) {
          const { error: _lost, ...rest } = a;
          return { ...rest, endedAt: a.endedAt ?? now, outcome: result.outcome };
        }
        if (a.attempt > result.attempt && a.outcome === undefined) {
          const message = `stopped: attempt ${result.attempt}'s ${result.outcome} arrived after its leases lapsed while Redis was out of reach, and stands`;
          return { ...a, endedAt: now, outcome: "cancelled" as const, error: { code: "CANCELLED", message } };
        }
        return a;
      });
      const run: Run = { ...cur.run, state: result.outcome === "pass" ? "passed" : "failed", endedAt: now, boards: lost.boards, attempts, steps: result.steps, cases: result.cases };
      delete run.waitingFor;
      delete run.error;
      const change: RunChange = { run, pending: null, active: "inactive" };
      if (superseded) change.leases = { mode: "release", boardIds: Object.values(superseded.boards), token: superseded.token, submitter: cur.run.submitter };
      return change;
    });
    if (!res) return false;
    this.ctx.log.warn(
      { run: result.runId, attempt: result.attempt, agent: by.agent, stopped: superseded?.attempt },
      "a lost attempt's outcome arrived late and stands: the run ends with it and its retry is withdrawn",
    );
    if (superseded) {
      await this.ctx.redis.publish(this.ctx.keys.cancelChannel(), result.runId);
      await this.ctx.queues.remove(superseded.agent, `${result.runId}-a${superseded.attempt}`);
    }
    this.ctx.wake();
    if (res.before.run.purpose !== "health-check") await this.ctx.boards.recordCleanRun(Object.values(res.after.boards));
    this.afterEnd(res.after);
    return true;
  }

  /** Cancel (API) or timeout (reaper). Returns the run as it is now, or undefined if unknown. */
  async stop(runId: string, state: "cancelled" | "timed-out", message: string, code?: string): Promise<Run | undefined> {
    const now = Date.now();
    const res = await this.ctx.runs.update(runId, (cur) => {
      if (isTerminal(cur.run.state)) return null;
      const a = CURRENT(cur);
      const run: Run = {
        ...cur.run,
        state,
        endedAt: now,
        error: { code: code ?? (state === "cancelled" ? "CANCELLED" : "RUN_TIMEOUT"), message },
      };
      delete run.waitingFor;
      if (a && cur.run.state !== "queued") run.attempts = [...cur.run.attempts.slice(0, -1), { ...a, endedAt: now, outcome: "cancelled" }];
      const c = cur.claim;
      if (!c || cur.run.state === "queued") return { run, pending: null };
      return { run, pending: null, leases: { mode: "release", boardIds: Object.values(c.boards), token: c.token, submitter: cur.run.submitter } };
    });
    if (!res) return (await this.ctx.runs.get(runId))?.run;
    const claim = res.before.claim;
    await this.ctx.redis.publish(this.ctx.keys.cancelChannel(), runId);
    this.ctx.wake();
    if (claim && res.before.run.state !== "queued") await this.ctx.queues.remove(claim.agent, `${runId}-a${claim.attempt}`);
    this.afterEnd(res.after);
    return res.after;
  }

  private async releaseClaim(s: StoredRun): Promise<void> {
    const claim = s.claim;
    if (!claim || s.run.state === "queued") return;
    await Promise.all([
      this.ctx.leases.release(Object.values(claim.boards), claim.token),
      this.ctx.redis.hincrby(this.ctx.keys.submitterUsage(), s.run.submitter, -1),
    ]);
  }

  /**
   * JUnit and the full log beside the artifacts, each file written whole (temp file, then rename), then the
   * run leaves `filesPending()`. Idempotent: a retry rewrites the same files from what Redis holds.
   */
  private async writeFiles(run: Run): Promise<void> {
    // a long run's head may be in its archive only (the stream's cap trimmed it)
    const archived = this.archive.read(run.id);
    const lines = archived ? [...archived.lines, ...(await this.readRunLog(run.id, archived.lastId))] : await this.readRunLog(run.id);
    const dir = this.ctx.artifacts.runDir(run.id);
    makeRunDir(dir);
    const junit = toJUnitXml({
      name: run.request.suite,
      runId: run.id,
      steps: run.steps,
      cases: run.cases,
      logLines: lines,
      ...(run.startedAt !== undefined ? { startedAt: run.startedAt } : {}),
    });
    // Small local files written synchronously: the promise API's file handles, thread-pool hops and
    // garbage cost this process several times the write itself (a large share of its time per run
    // under load). A run that logged nothing gets no empty log files; the log route then answers
    // from the run's Redis log, which is empty too.
    writeWhole(join(dir, "junit.xml"), junit);
    if (lines.length > 0) {
      const stored = markLogGaps(run, lines);
      writeWhole(join(dir, "log.jsonl"), stored.map((l) => JSON.stringify(l)).join("\n") + "\n");
      writeWhole(join(dir, "log.txt"), stored.map((l) => l.text).join("\n") + "\n");
    }
    // the Redis log expires only once the files hold it
    await Promise.all([
      this.ctx.redis.pexpire(this.ctx.keys.runLog(run.id), this.ctx.config.retentionMs),
      this.ctx.redis.zrem(this.ctx.keys.filesPending(), run.id),
      archived ? this.archive.remove(run.id) : undefined,
    ]);
  }

  /**
   * The run's whole log from its Redis stream. Agents write that stream, so an entry that is not a LogLine is
   * skipped (and counted in one warning), never allowed to fail the read: it would cost the run its log files
   * and every reader of the log a 5xx.
   */
  async readRunLog(runId: string, after?: string): Promise<LogLine[]> {
    const out: LogLine[] = [];
    let skipped = 0;
    let start = after === undefined ? "-" : `(${after}`;
    for (;;) {
      const batch = await this.ctx.redis.xrange(this.ctx.keys.runLog(runId), start, "+", "COUNT", 5000);
      for (const [id, fields] of batch) {
        const i = fields.indexOf("json");
        const line = decodeLogLine(i >= 0 ? fields[i + 1] : undefined);
        if (line) out.push(line);
        else skipped++;
        start = `(${id}`;
      }
      if (batch.length < 5000) break;
    }
    if (skipped > 0) this.ctx.log.warn({ run: runId, skipped }, "skipped malformed entries of the run's log stream");
    return out;
  }
}
