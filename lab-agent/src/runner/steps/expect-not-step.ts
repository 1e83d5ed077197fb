import type { Step } from "@hil/contracts";
import { requireTarget, type StepContext, type StepOutcome } from "../step-context.js";

export async function runExpectNotStep(ctx: StepContext<Extract<Step, { type: "expect-not" }>>): Promise<StepOutcome> {
  const target = requireTarget(ctx);
  await target.console.expectNot(new RegExp(ctx.step.pattern), ctx.step.duration, ctx.signal);
  return { outcome: "pass", message: `no line matched for ${ctx.step.duration} ms` };
}
