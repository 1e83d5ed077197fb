import type { Step } from "@hil/contracts";
import { sleep, type StepContext, type StepOutcome } from "../step-context.js";

export async function runWaitStep(ctx: StepContext<Extract<Step, { type: "wait" }>>): Promise<StepOutcome> {
  await sleep(ctx.step.duration, ctx.signal);
  return { outcome: "pass" };
}
