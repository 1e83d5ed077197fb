// The agent's side of the board-kind registry (@hil/device-profiles BOARD_KINDS): for each kind, the
// step executors its driver implements. A test holds this table to the registry — every capability a
// kind declares has all its steps here and nothing more — so a profile (which may claim only its
// kind's capabilities) can never promise a step this agent cannot run.
import type { Step, StepType } from "@hil/contracts";
import { STEP_CAPABILITY, type BoardKind } from "@hil/device-profiles";
import type { BoardTarget } from "./board-target.js";
import type { StepExecutor } from "./step-context.js";
import { runExpectNotStep } from "./steps/expect-not-step.js";
import { runExpectStep } from "./steps/expect-step.js";
import { runFlashStep } from "./steps/flash-step.js";
import { runResetStep } from "./steps/reset-step.js";
import { runSendStep } from "./steps/send-step.js";
import { runUnityStep } from "./steps/unity-step.js";
import { runWaitStep } from "./steps/wait-step.js";
import { runAndroidInstallStep } from "./steps/android-install-step.js";
import { runAndroidInstrumentStep } from "./steps/android-instrument-step.js";
import { runAndroidPushStep } from "./steps/android-push-step.js";
import { runAndroidShellStep } from "./steps/android-shell-step.js";
import { runFastbootFlashStep } from "./steps/fastboot-flash-step.js";
import { runAndroidAbUpdateStep } from "./steps/android-ab-update-step.js";
import { runExpectBootStep } from "./steps/expect-boot-step.js";
import { runExpectRollbackStep } from "./steps/expect-rollback-step.js";
import { runOtaServeStep } from "./steps/ota-serve-step.js";
import { runOtaTriggerStep } from "./steps/ota-trigger-step.js";

type Executors = Partial<Record<StepType, StepExecutor<never>>>;

export const KIND_STEPS: { readonly [K in BoardKind]: Executors } = {
  esp32: {
    flash: runFlashStep,
    reset: runResetStep,
    expect: runExpectStep,
    "expect-not": runExpectNotStep,
    send: runSendStep,
    unity: runUnityStep,
    "ota.trigger": runOtaTriggerStep,
    "expect-boot": runExpectBootStep,
    "expect-rollback": runExpectRollbackStep,
  },
  android: {
    "android.install": runAndroidInstallStep,
    "android.instrument": runAndroidInstrumentStep,
    "android.shell": runAndroidShellStep,
    "android.push": runAndroidPushStep,
    "fastboot.flash": runFastbootFlashStep,
    "android.ab-update": runAndroidAbUpdateStep,
  },
};

/** Steps that need no board (their role is absent): they run on the agent itself. */
const BOARDLESS: Executors = { wait: runWaitStep, "ota.serve": runOtaServeStep };
export const BOARDLESS_STEP_TYPES = Object.keys(BOARDLESS) as StepType[];

export type StepPlan = { executor: StepExecutor<never> } | { problem: string };

/** Which executor runs `step` on `target`, or why none can. */
export function planStep(step: Step, target: BoardTarget | undefined): StepPlan {
  if (!target) {
    const executor = BOARDLESS[step.type];
    return executor ? { executor } : { problem: `step type "${step.type}" needs a board and has none` };
  }
  const executor = KIND_STEPS[target.kind][step.type] ?? BOARDLESS[step.type];
  if (!executor) return { problem: `step type "${step.type}" is not supported on ${target.kind} board ${target.boardId}; run it on a board whose kind's driver provides it` };
  const needed = STEP_CAPABILITY[step.type];
  if (needed !== undefined && !target.capabilities.includes(needed)) {
    return { problem: `step type "${step.type}" needs capability "${needed}", which board ${target.boardId}'s profile does not list (it has: ${target.capabilities.join(", ") || "none"})` };
  }
  return { executor };
}
