import type { Step } from "@hil/contracts";
import { requireEsp32, type StepContext, type StepOutcome } from "../step-context.js";

export async function runSendStep(ctx: StepContext<Extract<Step, { type: "send" }>>): Promise<StepOutcome> {
  const target = requireEsp32(ctx);
  await target.send(ctx.step.newline ? `${ctx.step.text}\n` : ctx.step.text);
  return { outcome: "pass" };
}
