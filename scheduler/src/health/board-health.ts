import { randomUUID } from "node:crypto";
import {
  LAB_HEALTH_ACTOR,
  TERMINAL_RUN_STATES,
  type AgentCommand,
  type ArtifactRef,
  type BoardHistoryEntry,
  type Run,
} from "@hil/contracts";
import type { Catalog } from "../catalog.js";
import type { SchedulerContext } from "../context.js";
import { newRunId } from "../runs/run-submission.js";
import { BoardHistory } from "../store/board-history.js";
import { derivedState, type BoardView } from "../store/board-registry.js";
import { publishChange } from "../store/change-publisher.js";
import type { RunPlan } from "../store/run-store.js";
import { findLabCommandAnswer, SWAP_FIELD } from "./lab-command-answers.js";
import type { KnownGoodImages } from "./known-good-images.js";
import type { BoardHealthHooks } from "./health-hooks.js";
import { decideRecovery, type LadderDecision, type LadderEvent, type RecoveryStep } from "./recovery-ladder.js";

/** How long a recovery step may take on the agent before the scheduler runs the check anyway. */
const STEP_ACK_MS = 60_000;
/** How often the scheduled checks are looked for (the tick itself may be much shorter). */
const SCHEDULE_EVERY_MS = 5_000;
/** The health tick runs at most this often, whatever the scheduler's tick. */
const TICK_MIN_MS = 500;

/** A board's ladder state, in its hash (`recovery`): the step taken, and the command still unanswered. */
interface RecoveryState {
  step: number;
  kind: RecoveryStep;
  command?: string;
  sentAt?: number;
}

type HealthCtx = Pick<SchedulerContext, "redis" | "keys" | "boards" | "runs" | "config" | "log" | "wake">;

/**
 * Board health that heals: the recovery ladder after repeated infrastructure failures, health-check runs
 * (scheduled, after each recovery step, and before a quarantined board returns), and the board's history.
 *
 * A health check is an ordinary run of the profile's health-check suite pinned to the board, submitted by
 * `LAB_HEALTH_ACTOR` (never a user: nobody's fair share pays for it), marked `purpose: health-check`, at the
 * top priority and with one attempt. The board hash's `checkRun` names it: that one run may lease the board
 * while it is quarantined, and bookings do not hold it back (acquire-boards). Recovery steps go to the agent
 * through the board command stream; the agent closes each with a board-log line the ladder waits for.
 * All state lives in Redis (the board hash, its history list), so any scheduler replica's tick carries on.
 */
export class BoardHealth implements BoardHealthHooks {
  readonly history: BoardHistory;
  private lastSchedule = 0;
  private lastTick = 0;
  /** Cancels a run (the lifecycle's `stop`, given once it exists): a pending check an admin's decision made moot. */
  private stopRun: ((runId: string, why: string) => Promise<unknown>) | undefined;
  private ticking: Promise<void> | undefined;

  constructor(
    private readonly ctx: HealthCtx,
    private readonly catalog: Catalog,
    private readonly images: KnownGoodImages,
  ) {
    this.history = new BoardHistory(ctx.redis, ctx.keys);
  }

  /** Infrastructure failures charged to boards by a run; `quarantined` are the ones that just crossed the threshold. */
  async afterInfraFailure(boardIds: readonly string[], quarantined: readonly string[], message: string, runId: string): Promise<void> {
    for (const id of boardIds) await this.history.add(id, { kind: "infra-failure", detail: message, run: runId });
    for (const id of quarantined) {
      const view = await this.view(id);
      const n = this.ctx.config.quarantineAfter;
      const suite = view ? await this.checkSuite(view) : undefined;
      if (!view || !suite) {
        await this.history.add(id, { kind: "quarantined", detail: `${n} infrastructure failures in a row; the profile names no health check, so an admin returns it`, run: runId });
        continue;
      }
      await this.ctx.redis.hset(this.ctx.keys.board(id), { autoReturn: "1", quarantineReason: `recovering after ${n} infrastructure failures in a row; last: ${message}` });
      await this.history.add(id, { kind: "quarantined", detail: `${n} infrastructure failures in a row; recovery started (reset, power-cycle, reflash, each followed by a health check)`, run: runId });
      await this.apply(view, decideRecovery({ type: "infra-threshold" }, undefined, this.abilities(view)));
    }
  }

  useRunStopper(stop: (runId: string, why: string) => Promise<unknown>): void {
    this.stopRun = stop;
  }

  /** The board's pending health-check run, read before an admin's decision clears it. */
  async pendingCheck(id: string): Promise<string | undefined> {
    return (await this.ctx.redis.hget(this.ctx.keys.board(id), "checkRun")) ?? undefined;
  }

  /**
   * An admin took the board out of service: it stays out until an admin returns it (no automatic return).
   * `BoardRegistry.setQuarantine` has already ended whatever the lab's recovery was doing; its pending check is cancelled.
   */
  async adminQuarantined(id: string, actor: string, reason: string | undefined, pending?: string): Promise<void> {
    await this.history.add(id, { kind: "quarantined", detail: `by ${actor}${reason ? `: ${reason}` : ""}` });
    await this.cancelCheck(id, pending, `board ${id} was quarantined by ${actor}`);
  }

  async adminReleased(id: string, actor: string, pending?: string): Promise<void> {
    await this.history.add(id, { kind: "returned", detail: `released by ${actor}` });
    await this.cancelCheck(id, pending, `board ${id} was returned by ${actor}`);
  }

  private async cancelCheck(id: string, runId: string | undefined, why: string): Promise<void> {
    if (!runId || !this.stopRun) return;
    await this.stopRun(runId, `health check no longer needed: ${why}`);
    await this.history.add(id, { kind: "health-check", outcome: "failed", detail: `cancelled: ${why}`, run: runId });
  }

  /**
   * One tick: recovery steps the agent has answered (or that took too long) go on to their check; ended
   * checks are judged; every few seconds, boards due a scheduled check get one.
   */
  tick(now = Date.now()): Promise<void> {
    if (this.ticking || now - this.lastTick < TICK_MIN_MS) return this.ticking ?? Promise.resolve();
    this.lastTick = now;
    this.ticking = this.runTick(now).finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** Resolves once no tick runs (for a clean stop). */
  async idle(): Promise<void> {
    await this.ticking?.catch(() => undefined);
  }

  private async runTick(now: number): Promise<void> {
    // one pipelined read of every board's health fields; the full snapshot only when something is to be done
    const fields = await this.healthFields(await this.ctx.boards.ids());
    const busy = [...fields.values()].some((f) => f.checkRun !== undefined || f.recovery?.command !== undefined);
    const schedule = this.ctx.config.healthCheckIntervalMs > 0 && now - this.lastSchedule >= SCHEDULE_EVERY_MS;
    if (!busy && !schedule) return;
    const views = await this.ctx.boards.snapshot(now);
    for (const view of views) {
      const f = fields.get(view.board.id);
      if (!f) continue;
      try {
        if (f.checkRun) await this.checkEnded(view, f.checkRun, f.recovery);
        else if (f.recovery?.command) await this.stepAnswered(view, f.recovery, f.recoveryRaw ?? "", now);
      } catch (err) {
        this.ctx.log.error({ err, board: view.board.id }, "board health step failed; the next tick retries");
      }
    }
    if (schedule) {
      this.lastSchedule = now;
      await this.scheduled(views, fields, now);
    }
  }

  // --- the ladder ----------------------------------------------------------------------------------

  private async apply(view: BoardView, d: LadderDecision, run?: string): Promise<void> {
    const id = view.board.id;
    if (d.action === "stay") return;
    if (d.action === "return") {
      await this.returnToService(view, run);
      return;
    }
    for (const s of d.skipped) await this.history.add(id, { kind: s.step, outcome: "skipped", detail: s.why });
    if (d.action === "give-up") {
      const back =
        this.ctx.config.healthCheckIntervalMs > 0
          ? "it returns on its own once a scheduled health check passes"
          : "an admin returns it (with HIL_HEALTH_CHECK_INTERVAL set, a passing scheduled check would)";
      const reason = `recovery failed: reset, power-cycle and reflash did not bring it back; ${back}`;
      await this.ctx.redis.hdel(this.ctx.keys.board(id), "recovery");
      await this.ctx.redis.hset(this.ctx.keys.board(id), { quarantineReason: reason, autoReturn: "1" });
      await this.history.add(id, { kind: "quarantined", detail: reason });
      publishChange(this.ctx.redis, this.ctx.keys, { kind: "board", id, state: "quarantined" });
      return;
    }
    const command = await this.stepCommand(view, d.step);
    if (!command) {
      // nothing to send (no known-good image after all): straight to the next rung
      await this.history.add(id, { kind: d.step, outcome: "skipped", detail: "the lab has nothing to do this step with" });
      await this.apply(view, decideRecovery({ type: "check-failed", inRecovery: true, quarantined: true }, { step: d.index }, this.abilities(view)));
      return;
    }
    const state: RecoveryState = { step: d.index, kind: d.step, command: command.id, sentAt: Date.now() };
    await this.ctx.redis.hset(this.ctx.keys.board(id), { recovery: JSON.stringify(state), quarantineReason: `recovering: ${d.step}, then a health check` });
    await this.ctx.redis.xadd(this.ctx.keys.agentCommands(view.owner ?? view.agent), "MAXLEN", "~", "1000", "*", "json", JSON.stringify(command));
  }

  private async stepCommand(view: BoardView, step: RecoveryStep): Promise<AgentCommand | undefined> {
    const base = { id: randomUUID(), board: view.board.id, actor: LAB_HEALTH_ACTOR, at: Date.now() };
    if (step === "reset") return { type: "reset", ...base, mode: "run" };
    if (step === "power-cycle") return { type: "power-cycle", ...base };
    const image = await this.images.artifact(this.abilities(view).kind);
    if (!image) return undefined;
    return { type: "flash", ...base, artifact: image, offset: await this.appOffset(view) };
  }

  /** The agent's closing line for the step's command, or the time is up: record the step, run the check. */
  private async stepAnswered(view: BoardView, state: RecoveryState, raw: string, now: number): Promise<void> {
    const id = view.board.id;
    let outcome: BoardHistoryEntry["outcome"];
    let detail: string;
    const answer = await findLabCommandAnswer(this.ctx.redis, this.ctx.keys, id, state.command ?? "");
    if (answer) {
      outcome = answer.ok ? "done" : "failed";
      detail = answer.detail || (answer.ok ? `${state.kind} done` : `${state.kind} failed`);
    } else if (now - (state.sentAt ?? 0) > STEP_ACK_MS) {
      outcome = "failed";
      detail = `the agent did not confirm the ${state.kind} within ${STEP_ACK_MS / 1000} s`;
    } else return;
    const next: RecoveryState = { step: state.step, kind: state.kind };
    if ((await SWAP_FIELD.run(this.ctx.redis, [this.ctx.keys.board(id)], ["recovery", raw, JSON.stringify(next)])) !== 1) return;
    await this.history.add(id, { kind: state.kind, outcome, detail });
    await this.startCheck(view, `after the ${state.kind}`);
  }

  // --- health checks -------------------------------------------------------------------------------

  /** Submits the board's health-check run and names it in the board hash (the one run a quarantined board takes). */
  private async startCheck(view: BoardView, why: string): Promise<string | undefined> {
    const id = view.board.id;
    const suiteName = await this.checkSuite(view);
    const suite = suiteName ? (await this.catalog.suites()).get(suiteName) : undefined;
    if (!suiteName || !suite) {
      await this.history.add(id, { kind: "health-check", outcome: "failed", detail: `no health-check suite ${suiteName ?? ""} is loaded; the board stays as it is` });
      await this.ctx.redis.hdel(this.ctx.keys.board(id), "recovery");
      return undefined;
    }
    const artifacts: Record<string, ArtifactRef> = {};
    for (const [name, spec] of Object.entries(suite.artifacts)) {
      const ref = await this.images.artifact(spec.kind === "esp32-app" ? "esp32" : spec.kind);
      if (ref) artifacts[name] = ref;
    }
    const role = Object.keys(suite.roles)[0] ?? "dut";
    const now = Date.now();
    const run: Run = {
      id: newRunId(now),
      request: { suite: suite.name, board: id, artifacts: { ...artifacts }, priority: 100, maxAttempts: 1 },
      submitter: LAB_HEALTH_ACTOR,
      state: "queued",
      boards: {},
      attempts: [],
      createdAt: now,
      steps: [],
      cases: [],
      waitingFor: "dispatching",
      purpose: "health-check",
    };
    const plan: RunPlan = {
      submitter: LAB_HEALTH_ACTOR,
      priority: 100,
      suite,
      roles: { [role]: { profile: view.board.profile, labels: {}, board: id } },
      artifacts,
      timeoutMs: Math.max(1, Math.round(suite.timeout)),
      maxAttempts: 1,
      healthCheck: true,
    };
    // named first (the dispatcher may see the run the moment it exists), and only if no other check is pending
    if ((await SWAP_FIELD.run(this.ctx.redis, [this.ctx.keys.board(id)], ["checkRun", "", run.id])) !== 1) return undefined;
    await this.ctx.redis.hset(this.ctx.keys.board(id), { lastCheck: String(now) });
    await this.ctx.runs.create(run, plan);
    await this.history.add(id, { kind: "health-check", outcome: "started", detail: `${suite.name} ${why}`, run: run.id });
    this.ctx.wake(true);
    return run.id;
  }

  private async checkEnded(view: BoardView, runId: string, recovery: RecoveryState | undefined): Promise<void> {
    const id = view.board.id;
    const stored = await this.ctx.runs.get(runId);
    if (stored && !TERMINAL_RUN_STATES.includes(stored.run.state)) return;
    if ((await SWAP_FIELD.run(this.ctx.redis, [this.ctx.keys.board(id)], ["checkRun", runId, ""])) !== 1) return;
    const run = stored?.run;
    const passed = run?.state === "passed";
    const detail = !run ? "the check run is gone" : passed ? `${run.request.suite} passed` : `${run.request.suite} ${run.state}: ${failureOf(run)}`;
    await this.history.add(id, { kind: "health-check", outcome: passed ? "passed" : "failed", detail, run: runId });
    const autoReturn = (await this.ctx.redis.hget(this.ctx.keys.board(id), "autoReturn")) === "1";
    // a board an admin took out stays out whatever its checks say
    if (view.quarantined && !autoReturn) return;
    // someone cancelled a scheduled check: no verdict on a board in service
    if (run?.state === "cancelled" && !view.quarantined) return;
    const event: LadderEvent = passed ? { type: "check-passed" } : { type: "check-failed", inRecovery: recovery !== undefined, quarantined: view.quarantined };
    const decision = decideRecovery(event, recovery ? { step: recovery.step } : undefined, this.abilities(view));
    if (decision.action === "return" && !view.quarantined) return;
    if (decision.action === "step" && !view.quarantined) {
      // a scheduled check failed on a board in service: out of service, and up the ladder
      await this.ctx.redis.hset(this.ctx.keys.board(id), { quarantined: "1", autoReturn: "1", quarantineReason: `recovering: health check ${runId} failed` });
      await this.history.add(id, { kind: "quarantined", detail: `health check failed; recovery started`, run: runId });
      publishChange(this.ctx.redis, this.ctx.keys, { kind: "board", id, state: "quarantined" });
      this.ctx.wake(true);
    }
    await this.apply(view, decision, runId);
  }

  private async returnToService(view: BoardView, run: string | undefined): Promise<void> {
    const id = view.board.id;
    await this.ctx.redis.hdel(this.ctx.keys.board(id), "recovery", "autoReturn");
    await this.ctx.redis.hset(this.ctx.keys.board(id), { quarantined: "0", quarantineReason: "", fails: "0", health: "100" });
    await this.history.add(id, { kind: "returned", detail: "its health check passed; back in service", ...(run ? { run } : {}) });
    publishChange(this.ctx.redis, this.ctx.keys, { kind: "board", id, state: "released-quarantine" });
    this.ctx.log.info({ board: id, run }, "board back in service: its health check passed");
    this.ctx.wake(true);
  }

  /**
   * Scheduled checks (HIL_HEALTH_CHECK_INTERVAL): an idle board in service, and a board the lab quarantined
   * and gave up on, each at most once per interval. Boards an admin quarantined, busy or booked ones wait.
   */
  private async scheduled(views: BoardView[], fields: Map<string, HealthFields>, now: number): Promise<void> {
    for (const view of views) {
      const f = fields.get(view.board.id);
      if (!f || f.checkRun || f.recovery) continue;
      if (now - f.lastCheck < this.ctx.config.healthCheckIntervalMs) continue;
      const state = derivedState(view, now);
      const due = state === "idle" || (state === "quarantined" && f.autoReturn && view.agentAlive && view.disowned === undefined);
      if (!due || !(await this.checkSuite(view))) continue;
      await this.startCheck(view, view.quarantined ? "before the board may return" : "(scheduled)");
    }
  }

  // --- facts ---------------------------------------------------------------------------------------

  private async healthFields(ids: string[]): Promise<Map<string, HealthFields>> {
    const out = new Map<string, HealthFields>();
    if (ids.length === 0) return out;
    const pipe = this.ctx.redis.pipeline();
    for (const id of ids) pipe.hmget(this.ctx.keys.board(id), "checkRun", "recovery", "lastCheck", "autoReturn");
    const res = (await pipe.exec()) ?? [];
    ids.forEach((id, i) => {
      const f = res[i]?.[1] as (string | null)[] | undefined;
      if (!f) return;
      let recovery: RecoveryState | undefined;
      try {
        recovery = f[1] ? (JSON.parse(f[1]) as RecoveryState) : undefined;
      } catch {
        recovery = undefined;
      }
      out.set(id, {
        ...(f[0] ? { checkRun: f[0] } : {}),
        ...(recovery && f[1] ? { recovery, recoveryRaw: f[1] } : {}),
        lastCheck: Number(f[2] ?? "0"),
        autoReturn: f[3] === "1",
      });
    });
    return out;
  }

  private async checkSuite(view: BoardView): Promise<string | undefined> {
    const p = (await this.catalog.profiles()).get(view.board.profile);
    const name = p?.healthCheck;
    return name && name !== "none" ? name : undefined;
  }

  private async appOffset(view: BoardView): Promise<number> {
    return (await this.catalog.profiles()).get(view.board.profile)?.appOffset ?? 0x10000;
  }

  private abilities(view: BoardView): { kind: string; virtual: boolean; knownGoodImage: boolean } {
    const kind = this.kinds.get(view.board.profile) ?? "unknown";
    return { kind, virtual: view.board.virtual, knownGoodImage: this.images.has(kind) };
  }

  private readonly kinds = new Map<string, string>();

  /** Profile kinds, loaded once before the first tick (the ladder's decisions are synchronous). */
  async load(): Promise<void> {
    for (const [id, p] of await this.catalog.profiles()) this.kinds.set(id, p.kind);
  }

  private async view(id: string): Promise<BoardView | undefined> {
    return (await this.ctx.boards.snapshot()).find((v) => v.board.id === id);
  }
}

interface HealthFields {
  checkRun?: string;
  recovery?: RecoveryState;
  /** The `recovery` field as stored (what a compare-and-set compares). */
  recoveryRaw?: string;
  lastCheck: number;
  autoReturn: boolean;
}

function failureOf(run: Run): string {
  const failed = run.steps.find((s) => s.outcome === "fail" || s.outcome === "error");
  if (run.error) return `${run.error.code}: ${run.error.message}`;
  if (failed) return `step "${failed.name}" ${failed.outcome}${failed.message ? `: ${failed.message}` : ""}`;
  return "no reason given";
}
