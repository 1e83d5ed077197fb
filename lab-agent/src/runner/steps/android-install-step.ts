import type { Step } from "@hil/contracts";
import type { StepContext, StepOutcome } from "../step-context.js";
import { artifactFile, requireAndroid } from "./android-step-support.js";

/**
 * `adb install [-r] -g`: runtime permissions are granted, as instrumentation runs in CI expect.
 * A refusal (INSTALL_FAILED_*) fails the step with the device's reason; a device lost mid-transfer
 * is an infrastructure error (AdbClient.install).
 */
export async function runAndroidInstallStep(ctx: StepContext<Extract<Step, { type: "android.install" }>>): Promise<StepOutcome> {
  const target = requireAndroid(ctx);
  const apk = await artifactFile(ctx, ctx.step.artifact);
  const said = await target.adb.install(apk, { replace: ctx.step.replace, grant: true, timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  return { outcome: "pass", message: `installed ${ctx.step.artifact}: ${said}` };
}
