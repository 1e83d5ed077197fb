import type { Step } from "@hil/contracts";
import type { StepContext, StepOutcome } from "../step-context.js";
import { requireAndroid } from "./android-step-support.js";

const tail = (text: string, n: number): string => text.trimEnd().split("\n").slice(-n).join("\n");

/** Runs a command in the device's shell; an exit status other than `expectExit` fails the step. */
export async function runAndroidShellStep(ctx: StepContext<Extract<Step, { type: "android.shell" }>>): Promise<StepOutcome> {
  const target = requireAndroid(ctx);
  const r = await target.adb.shell(ctx.step.command, { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  await target.adb.ensureAttached(`adb shell ${JSON.stringify(ctx.step.command)}`);
  if (r.exitCode === ctx.step.expectExit) return { outcome: "pass", message: `exit ${r.exitCode}${r.stdout.trim() ? `: ${tail(r.stdout, 3)}` : ""}` };
  const output = [tail(r.stdout, 5), tail(r.stderr, 5)].filter((s) => s.length > 0).join("\n");
  return { outcome: "fail", message: `\`${ctx.step.command}\` exited ${r.exitCode}, expected ${ctx.step.expectExit}${output ? `:\n${output}` : ""}` };
}
