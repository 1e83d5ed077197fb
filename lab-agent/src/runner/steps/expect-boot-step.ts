import type { Step } from "@hil/contracts";
import { requireEsp32, type StepContext, type StepOutcome } from "../step-context.js";
import { bootDetails, bootMismatches, describeBoot, readNextBoot } from "./boot-report.js";

type ExpectBootStep = Extract<Step, { type: "expect-boot" }>;

/** The board's next boot comes up with the given app version from the given partition. */
export async function runExpectBootStep(ctx: StepContext<ExpectBootStep>): Promise<StepOutcome> {
  const target = requireEsp32(ctx);
  const report = await readNextBoot(target.console, { timeoutMs: ctx.timeoutMs, signal: ctx.signal });
  const version = ctx.step.version === undefined ? undefined : ctx.scope.expand(ctx.step.version, "expect-boot version");
  const misses = bootMismatches(report, { version, partition: ctx.step.partition });
  const seen = describeBoot(report);
  if (misses.length > 0) return { outcome: "fail", message: `booted ${seen}: ${misses.join("; ")}`, details: bootDetails(report) };
  return { outcome: "pass", message: `booted ${seen}`, details: bootDetails(report) };
}
