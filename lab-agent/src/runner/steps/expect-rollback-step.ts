import type { Step } from "@hil/contracts";
import type { ConsoleCapture } from "../../console/console-capture.js";
import { requireEsp32, type StepContext, type StepOutcome } from "../step-context.js";
import { bootDetails, bootMismatches, describeBoot, readNextBoot } from "./boot-report.js";

type ExpectRollbackStep = Extract<Step, { type: "expect-rollback" }>;

const BOOT_BANNER = /rst:0x[0-9a-f]+ \(/;

/**
 * A bad or unconfirmed image does not stay: "reboot" — the next boot is `version` again (the
 * bootloader aborted the PENDING_VERIFY slot and went back); "refuse" — the app rejects the image
 * (its error line) and runs on without restarting, still as `version`.
 */
export async function runExpectRollbackStep(ctx: StepContext<ExpectRollbackStep>): Promise<StepOutcome> {
  const target = requireEsp32(ctx);
  const step = ctx.step;
  const version = ctx.scope.expand(step.version, "expect-rollback version");
  if (step.mode === "reboot") {
    const report = await readNextBoot(target.console, { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
    const misses = bootMismatches(report, { version, partition: step.partition });
    const details = { ...bootDetails(report), mode: step.mode };
    if (misses.length > 0) return { outcome: "fail", message: `expected a rollback to ${version}, booted ${describeBoot(report)}: ${misses.join("; ")}`, details };
    return { outcome: "pass", message: `rolled back: booted ${describeBoot(report)}`, details };
  }
  const settleMs = step.settle;
  const { entry } = await target.console.expect(new RegExp(step.pattern), { timeoutMs: Math.max(1000, ctx.timeoutMs - settleMs), signal: ctx.signal });
  await target.console.expectNot(BOOT_BANNER, settleMs, ctx.signal);
  const running = lastBootVersion(target.console);
  const details = { mode: step.mode, refusedBy: entry.plain, version: running ?? null, partition: null as string | null };
  if (running !== undefined && running !== version) {
    return { outcome: "fail", message: `the image was refused (${entry.plain}) but the running app is ${running}, not ${version}`, details };
  }
  return { outcome: "pass", message: `refused: ${entry.plain}; no restart within ${settleMs} ms, ${running ?? "the previous app"} keeps running`, details };
}

/** The `App version:` of the newest boot still in the console buffer. */
function lastBootVersion(console: ConsoleCapture): string | undefined {
  const lines = console.lines();
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /App version:\s+(.+?)\s*$/.exec((lines[i]?.text ?? "").replace(/\x1b\[[0-9;]*m/g, ""));
    if (m) return m[1];
  }
  return undefined;
}
