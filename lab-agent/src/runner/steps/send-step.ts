import type { Step } from "@hil/contracts";
import { requireTarget, type StepContext, type StepOutcome } from "../step-context.js";

export async function runSendStep(ctx: StepContext<Extract<Step, { type: "send" }>>): Promise<StepOutcome> {
  const target = requireTarget(ctx);
  await target.send(ctx.step.newline ? `${ctx.step.text}\n` : ctx.step.text);
  return { outcome: "pass" };
}
