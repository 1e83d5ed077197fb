import type { Step } from "@hil/contracts";
import { requireTarget, type StepContext, type StepOutcome } from "../step-context.js";

export async function runExpectStep(ctx: StepContext<Extract<Step, { type: "expect" }>>): Promise<StepOutcome> {
  const target = requireTarget(ctx);
  const { entry } = await target.console.expect(new RegExp(ctx.step.pattern), { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  return { outcome: "pass", message: `line ${entry.line.seq}: ${entry.plain}` };
}
