import type { Step } from "@hil/contracts";
import { requireEsp32, type StepContext, type StepOutcome } from "../step-context.js";

export async function runResetStep(ctx: StepContext<Extract<Step, { type: "reset" }>>): Promise<StepOutcome> {
  const target = requireEsp32(ctx);
  target.console.skipToEnd();
  await target.reset(ctx.step.mode);
  return { outcome: "pass", message: `reset into ${ctx.step.mode} mode` };
}
