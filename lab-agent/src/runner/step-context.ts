import type { CaseResult, LabErrorCode, Outcome, Step, Suite } from "@hil/contracts";
import { LabError } from "@hil/contracts";
import { isEsp32Target, type BoardTarget, type Esp32BoardTarget } from "./board-target.js";
import type { RunScope } from "./run-scope.js";

export interface StepContext<S extends Step = Step> {
  step: S;
  suite: Suite;
  /** The board of the step's role (undefined for role-less steps such as wait). */
  target: BoardTarget | undefined;
  /** Artifact name → local file path. */
  artifacts: Record<string, string>;
  /** Aborts on cancel, on the step's timeout and on the suite's timeout. */
  signal: AbortSignal;
  /** What is left of the step's time budget when it starts. */
  timeoutMs: number;
  /** Values and resources shared by the run's steps (an OTA server and its `${ota.url}`). */
  scope: RunScope;
}

/** What a step executor reports; throwing a LabError is the other way to end a step. */
export interface StepOutcome {
  outcome: Outcome;
  message?: string;
  errorCode?: LabErrorCode;
  cases?: CaseResult[];
  /** What the step saw, kept in its StepResult. */
  details?: Record<string, string | number | boolean | null>;
}

export type StepExecutor<S extends Step = Step> = (ctx: StepContext<S>) => Promise<StepOutcome>;

export function requireTarget(ctx: StepContext): BoardTarget {
  if (!ctx.target) throw new Error(`step "${ctx.step.type}" has no board`);
  return ctx.target;
}

/** The step's board as an ESP32 (the ESP32 driver's executors run only on ESP32 boards: kind-drivers.ts). */
export function requireEsp32(ctx: StepContext): Esp32BoardTarget {
  const target = requireTarget(ctx);
  if (!isEsp32Target(target)) throw new LabError("STEP_UNSUPPORTED", `step "${ctx.step.type}" runs on ESP32 boards; ${target.boardId} is ${target.kind}`);
  return target;
}

/** Resolves after `ms`, or rejects with the signal's reason. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export function stepDisplayName(step: Step): string {
  if (step.name) return step.name;
  switch (step.type) {
    case "flash":
      return `flash ${step.images.map((i) => i.artifact).join(", ")}`;
    case "reset":
      return `reset (${step.mode})`;
    case "expect":
      return `expect /${step.pattern}/`;
    case "expect-not":
      return `expect-not /${step.pattern}/`;
    case "send":
      return `send ${JSON.stringify(step.text)}`;
    case "wait":
      return `wait ${step.duration} ms`;
    case "unity":
      return "unity";
    case "ota.serve":
      return `ota.serve ${step.artifact}${step.fault === "none" ? "" : ` (${step.fault})`}`;
    case "expect-boot":
      return `expect-boot${step.version ? ` ${step.version}` : ""}${step.partition ? ` on ${step.partition}` : ""}`;
    case "expect-rollback":
      return `expect-rollback to ${step.version}${step.mode === "refuse" ? " (image refused)" : ""}`;
    case "android.ab-update":
      return `android.ab-update ${step.images.map((i) => i.partition).join(", ")}${step.expect === "fallback" ? " (expect fallback)" : ""}`;
    default:
      return step.type;
  }
}
