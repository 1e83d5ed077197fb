import {
  ERROR_CODES,
  LabError,
  StepTimeoutError,
  toLabError,
  type CaseResult,
  type LabErrorCode,
  type LogLine,
  type Step,
  type StepResult,
  type Suite,
} from "@hil/contracts";
import type { Disposable } from "../links/serial-link.js";
import type { BoardTarget } from "./board-target.js";
import { stepDisplayName, type StepContext, type StepExecutor, type StepOutcome } from "./step-context.js";
import { planStep } from "./kind-drivers.js";
import { RunScope } from "./run-scope.js";

export type SuiteOutcome = "pass" | "fail" | "error" | "cancelled";

export interface SuiteResult {
  outcome: SuiteOutcome;
  steps: StepResult[];
  /** Every case of every step, in order. */
  cases: CaseResult[];
  /** Why the run did not pass, when a step errored or the run was cancelled / timed out. */
  error?: { code: string; message: string };
  /** The suite's own time budget ran out (the outcome is then "fail" with STEP_TIMEOUT). */
  timedOut: boolean;
  durationMs: number;
  startedAt: number;
  /** Every console line of every board during the run; empty when the caller streams them (`keepLog: false`). */
  log: LogLine[];
}

export interface RunSuiteOptions {
  suite: Suite;
  /** role → board */
  targets: Record<string, BoardTarget>;
  /** artifact name → local file path */
  artifacts: Record<string, string>;
  runId?: string;
  signal?: AbortSignal;
  onLog?: (line: LogLine) => void;
  onStep?: (result: StepResult) => void;
  /** Overrides the suite's own timeout. */
  timeoutMs?: number;
  /**
   * Keep every line in `SuiteResult.log` (default true: `hil test` writes them to console.log). The agent streams
   * them through `onLog` and keeps none: a long run's lines would otherwise all sit in its memory.
   */
  keepLog?: boolean;
}

// Defaults when a step gives no timeout of its own (the suite budget still caps them).
const DEFAULT_TIMEOUT_MS: Partial<Record<Step["type"], number>> = {
  flash: 300_000,
  reset: 15_000,
  expect: 30_000,
  send: 10_000,
  "ota.serve": 10_000,
  "ota.trigger": 180_000,
  "expect-boot": 30_000,
  "expect-rollback": 30_000,
};

const TEST_FAILURE_CODES: ReadonlySet<string> = new Set<LabErrorCode>(["TEST_FAILED"]);

function isInfraCode(code: string | undefined): boolean {
  return code !== undefined && code in ERROR_CODES && ERROR_CODES[code as LabErrorCode].infra;
}

/**
 * Runs a suite's steps in order against its boards. After the first step that fails or errors the
 * rest are skipped. The outcome keeps infrastructure apart from tests: any step error whose code is
 * an infrastructure code (link closed, flash failed, sync failed, …) makes the run `error`; test
 * failures, step timeouts and unsupported steps make it `fail`.
 */
export async function runSuite(opts: RunSuiteOptions): Promise<SuiteResult> {
  const startedAt = Date.now();
  const budgetMs = opts.timeoutMs ?? opts.suite.timeout;
  const suiteDeadline = startedAt + budgetMs;
  const log: LogLine[] = [];
  const keepLog = opts.keepLog ?? true;
  const subs: Disposable[] = [];
  const trouble = new Map<BoardTarget, string>();
  for (const target of uniqueTargets(opts.targets)) {
    target.console.setRun(opts.runId ?? null);
    subs.push(
      target.console.onLine((line) => {
        if (keepLog) log.push(line);
        opts.onLog?.(line);
      }),
      // Remembered so a step that times out can say why the board never printed what it waited for.
      target.console.onLandmark((l) => {
        if (l.type === "boot-loop") {
          trouble.set(target, `the board is in a boot loop (${l.boots} boots without reaching app_main)`);
        } else if (l.type === "panic" && !trouble.get(target)?.includes("boot loop")) {
          trouble.set(target, `the board panicked: ${l.lines[0] ?? ""}`);
        } else if (l.type === "app-start") {
          trouble.delete(target);
        }
      }),
    );
  }
  const steps: StepResult[] = [];
  const scope = new RunScope();
  let stopped: { code: string; message: string; infra: boolean; cancelled: boolean; timedOut: boolean } | undefined;
  try {
    for (const [index, step] of opts.suite.steps.entries()) {
      const role = "role" in step ? step.role : undefined;
      const base: StepResult = { index, type: step.type, name: stepDisplayName(step), outcome: "skip", startedAt: Date.now(), durationMs: 0, cases: [] };
      if (role !== undefined) base.role = role;
      if (stopped) {
        base.message = `skipped: ${stopped.cancelled ? "the run was cancelled" : "an earlier step did not pass"}`;
        steps.push(base);
        opts.onStep?.(base);
        continue;
      }
      const { result, suiteLimited } = await runOneStep(opts, step, base, suiteDeadline, budgetMs, scope);
      const target = role !== undefined ? opts.targets[role] : undefined;
      const why = target ? trouble.get(target) : undefined;
      if (why && result.errorCode === "STEP_TIMEOUT" && result.message !== undefined) result.message = `${why}\n${result.message}`;
      steps.push(result);
      opts.onStep?.(result);
      if (result.outcome === "fail" || result.outcome === "error") {
        const code = result.errorCode ?? "TEST_FAILED";
        stopped = {
          code,
          message: result.message ?? `step ${index + 1} (${result.name}) ${result.outcome === "fail" ? "failed" : "errored"}`,
          infra: isInfraCode(code),
          cancelled: code === "CANCELLED",
          timedOut: suiteLimited && code === "STEP_TIMEOUT",
        };
      }
    }
  } finally {
    for (const s of subs) s.dispose();
    // An OTA server a step started stops with the run; failing to close it does not change the outcome.
    await scope.close().catch(() => undefined);
  }
  const cases = steps.flatMap((s) => s.cases);
  const result: SuiteResult = {
    outcome: "pass",
    steps,
    cases,
    timedOut: stopped?.timedOut ?? false,
    durationMs: Date.now() - startedAt,
    startedAt,
    log,
  };
  if (stopped) {
    result.outcome = stopped.cancelled ? "cancelled" : stopped.infra ? "error" : "fail";
    if (!TEST_FAILURE_CODES.has(stopped.code) || stopped.cancelled || stopped.infra) result.error = { code: stopped.code, message: stopped.message };
  }
  return result;
}

function uniqueTargets(targets: Record<string, BoardTarget>): BoardTarget[] {
  return [...new Set(Object.values(targets))];
}

// Steps enforce their own timeout with a precise message; the outer timer only catches those that do not.
const OUTER_GRACE_MS = 2000;

async function runOneStep(
  opts: RunSuiteOptions,
  step: Step,
  base: StepResult,
  suiteDeadline: number,
  budgetMs: number,
  scope: RunScope,
): Promise<{ result: StepResult; suiteLimited: boolean }> {
  const role = "role" in step ? step.role : undefined;
  const target = role !== undefined ? opts.targets[role] : undefined;
  const result: StepResult = { ...base, startedAt: Date.now() };
  const firstSeq = target?.console.nextSeq;
  let suiteLimited = false;
  // known once the step starts; a step refused before that (no board, unsupported) has none
  let allowedMs: number | undefined;
  const finish = (o: StepOutcome): { result: StepResult; suiteLimited: boolean } => {
    result.outcome = o.outcome;
    if (o.message !== undefined) result.message = o.message;
    if (o.errorCode !== undefined) result.errorCode = o.errorCode;
    if (o.details !== undefined) result.details = o.details;
    result.cases = o.cases ?? [];
    result.durationMs = Date.now() - result.startedAt;
    if (allowedMs !== undefined) result.timeoutMs = allowedMs;
    if (target && firstSeq !== undefined) {
      result.firstSeq = firstSeq;
      if (target.console.lastSeq >= firstSeq) result.lastSeq = target.console.lastSeq;
    }
    return { result, suiteLimited };
  };

  if (role !== undefined && !target) {
    return finish({ outcome: "error", errorCode: "SUITE_INVALID", message: `no board was given for role "${role}"` });
  }
  const plan = planStep(step, target);
  if ("problem" in plan) return finish({ outcome: "error", errorCode: "STEP_UNSUPPORTED", message: plan.problem });
  const executor = plan.executor;
  if (opts.signal?.aborted) return finish({ outcome: "error", errorCode: "CANCELLED", message: "the run was cancelled" });

  const suiteLeft = Math.max(0, suiteDeadline - Date.now());
  const own = step.timeout ?? (step.type === "wait" || step.type === "expect-not" ? step.duration + 10_000 : DEFAULT_TIMEOUT_MS[step.type]);
  const stepBudget = Math.min(own ?? suiteLeft, suiteLeft);
  allowedMs = stepBudget;
  suiteLimited = own === undefined || suiteLeft <= own;

  const ac = new AbortController();
  let why: "cancel" | "timeout" | undefined;
  const onCancel = () => {
    why ??= "cancel";
    ac.abort(new LabError("CANCELLED", "the run was cancelled"));
  };
  opts.signal?.addEventListener("abort", onCancel, { once: true });
  const timer = setTimeout(() => {
    why ??= "timeout";
    ac.abort(new StepTimeoutError("step timed out"));
  }, stepBudget + OUTER_GRACE_MS);
  const timeoutMessage = () =>
    suiteLimited
      ? `the suite's time budget of ${Math.round(budgetMs / 1000)} s ran out during this step`
      : `step did not finish within ${Math.round(stepBudget / 1000)} s`;

  // A step that ignores its signal must not hold the run hostage: the abort wins the race.
  const aborted = new Promise<never>((_, reject) => {
    ac.signal.addEventListener("abort", () => reject(ac.signal.reason), { once: true });
  });
  aborted.catch(() => undefined);
  const ctx: StepContext = { step, suite: opts.suite, target, artifacts: opts.artifacts, signal: ac.signal, timeoutMs: stepBudget, scope };
  try {
    const outcome = await Promise.race([(executor as StepExecutor)(ctx), aborted]);
    return finish(outcome);
  } catch (err) {
    if (why === "cancel") return finish({ outcome: "error", errorCode: "CANCELLED", message: "the run was cancelled" });
    if (why === "timeout") return finish({ outcome: "error", errorCode: "STEP_TIMEOUT", message: timeoutMessage() });
    const e = toLabError(err);
    if (e.code === "TEST_FAILED") return finish({ outcome: "fail", message: e.message });
    return finish({ outcome: "error", errorCode: e.code, message: e.message });
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onCancel);
  }
}
