import { setTimeout as delay } from "node:timers/promises";
import { LabError, type Step } from "@hil/contracts";
import type { AdbClient } from "../../drivers/android/adb-client.js";
import type { StepContext, StepOutcome } from "../step-context.js";
import { artifactFile, requireAndroid } from "./android-step-support.js";

/** Polls `fastboot getvar product` until the bootloader answers. */
export async function waitForBootloader(adb: AdbClient, deadline: number, signal: AbortSignal): Promise<void> {
  let last = "";
  while (Date.now() < deadline) {
    if (signal.aborted) throw new LabError("CANCELLED", "the run was cancelled while waiting for the bootloader");
    try {
      const r = await adb.fastboot(["getvar", "product"], { timeoutMs: Math.max(500, Math.min(3000, deadline - Date.now())), signal });
      if (/^product:/m.test(r.stderr)) return;
      last = r.stderr.trim();
    } catch (err) {
      last = (err as Error).message;
    }
    await delay(200);
  }
  throw new LabError("BOARD_VANISHED", `${adb.fastbootSerial ?? adb.serial} never answered fastboot after \`adb reboot bootloader\`: ${last}`);
}

/**
 * Reboots into the bootloader, flashes one partition (fastboot resolves A/B partitions to the
 * current slot), reboots and waits for Android to finish booting on the new image.
 */
export async function runFastbootFlashStep(ctx: StepContext<Extract<Step, { type: "fastboot.flash" }>>): Promise<StepOutcome> {
  const target = requireAndroid(ctx);
  const image = await artifactFile(ctx, ctx.step.artifact);
  const deadline = Date.now() + ctx.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  await target.adb.reboot("bootloader");
  await waitForBootloader(target.adb, Math.min(deadline, Date.now() + 60_000), ctx.signal);
  await target.adb.flashPartition(ctx.step.partition, image, { timeoutMs: left(), signal: ctx.signal });
  await target.adb.fastboot(["reboot"], { timeoutMs: Math.min(left(), 15_000), signal: ctx.signal });
  // Log lines from before the flash belong to the old image.
  target.console.skipToEnd();
  await target.adb.waitForBoot(deadline, ctx.signal);
  return { outcome: "pass", message: `flashed ${ctx.step.artifact} to ${ctx.step.partition}` };
}
