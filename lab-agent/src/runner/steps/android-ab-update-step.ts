import { LabError, type Step } from "@hil/contracts";
import { otherAbSlot, readAbState, runningSlot, setActiveSlot, type AbSlot, type AbState } from "../../drivers/android/fastboot-slots.js";
import type { AndroidBoardTarget } from "../android-target.js";
import type { StepContext, StepOutcome } from "../step-context.js";
import { artifactFile, requireAndroid } from "./android-step-support.js";
import { waitForBootloader } from "./fastboot-flash-step.js";

type AbUpdateStep = Extract<Step, { type: "android.ab-update" }>;
type Details = Record<string, string | number | boolean | null>;

/** The slot metadata a step reports, flattened for StepResult.details (`b.unbootable`, …). */
function slotDetails(prefix: string, state: AbState): Details {
  const d: Details = { [`${prefix}current`]: state.current };
  for (const s of ["a", "b"] as const) {
    d[`${prefix}${s}.successful`] = state.slots[s].successful;
    d[`${prefix}${s}.unbootable`] = state.slots[s].unbootable;
    d[`${prefix}${s}.retryCount`] = state.slots[s].retryCount;
  }
  return d;
}

function describeSlot(slot: AbSlot, state: AbState): string {
  const r = state.slots[slot];
  return `slot ${slot}: successful ${r.successful ? "yes" : "no"}, unbootable ${r.unbootable ? "yes" : "no"}, retry count ${r.retryCount ?? "?"}`;
}

/** Into the bootloader from Android (the board must be booted) and wait until fastboot answers. */
async function enterBootloader(target: AndroidBoardTarget, deadline: number, signal: AbortSignal): Promise<void> {
  await target.adb.reboot("bootloader");
  await waitForBootloader(target.adb, Math.min(deadline, Date.now() + 60_000), signal);
}

/** How long the bootloader must keep answering, with Android not up, before no slot booted is the verdict. */
const STAYED_IN_BOOTLOADER_MS = 10_000;

/**
 * Out of the bootloader and wait for `sys.boot_completed`; log lines from before belong to the old
 * boot. With no bootable slot left the device stays in its bootloader: that is seen as fastboot
 * answering for a while after the reboot, rather than waited out to the deadline.
 */
async function bootAndroid(target: AndroidBoardTarget, deadline: number, signal: AbortSignal): Promise<"booted" | "bootloader"> {
  const adb = target.adb;
  await adb.fastboot(["reboot"], { timeoutMs: Math.max(1000, Math.min(15_000, deadline - Date.now())), signal });
  target.console.skipToEnd();
  let answeringSince: number | null = null;
  for (;;) {
    try {
      await adb.waitForBoot(Math.min(deadline, Date.now() + 5000), signal);
      return "booted";
    } catch (err) {
      if (Date.now() >= deadline || signal.aborted) throw err;
    }
    const probe = await adb.fastboot(["getvar", "current-slot"], { timeoutMs: 2000, signal }).catch(() => null);
    if (probe?.exitCode === 0 && /^current-slot:/m.test(probe.stderr)) {
      answeringSince ??= Date.now();
      if (Date.now() - answeringSince >= STAYED_IN_BOOTLOADER_MS) return "bootloader";
    } else {
      answeringSince = null;
    }
  }
}

/**
 * An A/B update as the bootloader sees it: flash the given images into the slot Android is not
 * running from, make that slot active (its tries reset), reboot, and check which slot came up. The
 * slot metadata is then read back from the bootloader, where the OS's verdict is kept: the updated
 * slot marked successful, or — with `expect: fallback` — given up as unbootable while the old slot
 * runs again. The board is left booted into Android.
 */
export async function runAndroidAbUpdateStep(ctx: StepContext<AbUpdateStep>): Promise<StepOutcome> {
  const target = requireAndroid(ctx);
  // Every artifact is checked before the board is touched.
  const images: { partition: string; artifact: string; file: string }[] = [];
  for (const img of ctx.step.images) images.push({ ...img, file: await artifactFile(ctx, img.artifact) });
  const deadline = Date.now() + ctx.timeoutMs;
  const left = () => Math.max(1000, deadline - Date.now());
  const opts = () => ({ timeoutMs: Math.min(left(), 30_000), signal: ctx.signal });
  const adb = target.adb;

  await adb.waitForBoot(deadline, ctx.signal);
  const from = await runningSlot(adb);
  if (from === null) throw new LabError("STEP_UNSUPPORTED", `${target.boardId} has no ro.boot.slot_suffix: it is not an A/B device, so android.ab-update cannot run on it`);
  const to = otherAbSlot(from);
  const details: Details = { expect: ctx.step.expect, "slot.before": from, "slot.target": to, images: images.map((i) => `${i.partition}_${to}=${i.artifact}`).join(", ") };

  await enterBootloader(target, deadline, ctx.signal);
  Object.assign(details, slotDetails("before.", await readAbState(adb, opts())));
  for (const img of images) await adb.flashPartition(`${img.partition}_${to}`, img.file, { timeoutMs: left(), signal: ctx.signal });
  await setActiveSlot(adb, to, opts());
  const armed = await readAbState(adb, opts());
  details["armed.retryCount"] = armed.slots[to].retryCount;
  if (armed.current !== to) {
    return { outcome: "fail", message: `after set_active ${to} the bootloader still reports current-slot ${armed.current}`, details };
  }

  if ((await bootAndroid(target, deadline, ctx.signal)) === "bootloader") {
    const stuck = await readAbState(adb, opts());
    Object.assign(details, slotDetails("after.", stuck));
    details["slot.after"] = null;
    return { outcome: "fail", message: `no slot booted after the update: the device stayed in its bootloader (${describeSlot(to, stuck)}; ${describeSlot(from, stuck)})`, details };
  }
  const after = await runningSlot(adb);
  details["slot.after"] = after;
  // The OS's verdict on the new slot lives in the bootloader's metadata; read it there, then boot back.
  await enterBootloader(target, deadline, ctx.signal);
  const final = await readAbState(adb, opts());
  Object.assign(details, slotDetails("after.", final));
  if ((await bootAndroid(target, deadline, ctx.signal)) === "bootloader") {
    return { outcome: "fail", message: `slot ${final.current} booted once but not again: the device stayed in its bootloader (${describeSlot(final.current, final)})`, details };
  }

  const flashed = images.map((i) => i.partition).join(", ");
  if (ctx.step.expect === "new-slot") {
    if (after !== to) return { outcome: "fail", message: `expected the device to boot the updated slot ${to}; it came back on slot ${after ?? "?"} (${describeSlot(to, final)})`, details };
    if (!final.slots[to].successful || final.slots[to].unbootable) return { outcome: "fail", message: `the device booted slot ${to} but did not mark it successful (${describeSlot(to, final)})`, details };
    return { outcome: "pass", message: `flashed ${flashed} to slot ${to}; booted slot ${to} and marked it successful`, details };
  }
  if (after === to) return { outcome: "fail", message: `expected a fallback to slot ${from}; the device booted the updated slot ${to} (${describeSlot(to, final)})`, details };
  if (after !== from) return { outcome: "fail", message: `expected a fallback to slot ${from}; the device reports slot ${after ?? "?"}`, details };
  if (!final.slots[to].unbootable || final.current !== from) {
    return { outcome: "fail", message: `the device runs slot ${from} again but the bootloader has not given slot ${to} up (current-slot ${final.current}, ${describeSlot(to, final)})`, details };
  }
  return { outcome: "pass", message: `flashed ${flashed} to slot ${to}; it could not boot, the bootloader marked it unbootable and fell back to slot ${from}`, details };
}
