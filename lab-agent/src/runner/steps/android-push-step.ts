import type { Step } from "@hil/contracts";
import type { StepContext, StepOutcome } from "../step-context.js";
import { artifactFile, requireAndroid } from "./android-step-support.js";

export async function runAndroidPushStep(ctx: StepContext<Extract<Step, { type: "android.push" }>>): Promise<StepOutcome> {
  const target = requireAndroid(ctx);
  const file = await artifactFile(ctx, ctx.step.artifact);
  await target.adb.push(file, ctx.step.path, { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  return { outcome: "pass", message: `pushed ${ctx.step.artifact} to ${ctx.step.path}` };
}
