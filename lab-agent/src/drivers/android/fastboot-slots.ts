import { LabError } from "@hil/contracts";
import type { AdbClient, ShellOptions } from "./adb-client.js";
import { firstLine } from "./adb-errors.js";

export type AbSlot = "a" | "b";

/** One slot as the bootloader reports it (`getvar slot-successful:a` …). */
export interface SlotReport {
  successful: boolean;
  unbootable: boolean;
  /** `slot-retry-count`; null when the bootloader does not report it. */
  retryCount: number | null;
}

export interface AbState {
  /** `getvar current-slot`: the slot the bootloader boots next. */
  current: AbSlot;
  slotCount: number;
  slots: Record<AbSlot, SlotReport>;
}

export const otherAbSlot = (slot: AbSlot): AbSlot => (slot === "a" ? "b" : "a");

/** Some bootloaders answer `_a` rather than `a`. */
function slotOf(value: string | undefined): AbSlot | null {
  const v = value?.trim().replace(/^_/, "");
  return v === "a" || v === "b" ? v : null;
}

/**
 * The variables of `fastboot getvar all` (stderr lines `(bootloader) NAME:VALUE`). Names may hold
 * ':' themselves (`slot-successful:a:yes`), so callers look names up rather than split lines.
 */
export function getvarLookup(stderr: string): (name: string) => string | undefined {
  const lines = stderr.split(/\r?\n/).map((l) => l.replace(/^\(bootloader\)\s?/, ""));
  return (name) => {
    const line = lines.find((l) => l.startsWith(`${name}:`));
    return line === undefined ? undefined : line.slice(name.length + 1).trim();
  };
}

/** Reads the A/B state from `getvar all` output; a board without two slots cannot take an A/B update. */
export function parseAbState(stderr: string, board: string): AbState {
  const get = getvarLookup(stderr);
  const count = Number(get("slot-count") ?? "0");
  const current = slotOf(get("current-slot"));
  if (!(count >= 2) || current === null) {
    throw new LabError("STEP_UNSUPPORTED", `${board}'s bootloader reports slot-count "${get("slot-count") ?? "none"}" and current-slot "${get("current-slot") ?? "none"}": it is not an A/B device, so an A/B update cannot run on it`);
  }
  const report = (s: AbSlot): SlotReport => {
    const retry = get(`slot-retry-count:${s}`);
    return {
      successful: get(`slot-successful:${s}`) === "yes",
      unbootable: get(`slot-unbootable:${s}`) === "yes",
      retryCount: retry !== undefined && /^\d+$/.test(retry) ? Number(retry) : null,
    };
  };
  return { current, slotCount: count, slots: { a: report("a"), b: report("b") } };
}

/** `fastboot getvar all` on a board in its bootloader, read as A/B state. */
export async function readAbState(adb: AdbClient, opts: ShellOptions): Promise<AbState> {
  const r = await adb.fastboot(["getvar", "all"], opts);
  if (r.exitCode !== 0) throw new LabError("LINK_CLOSED", `fastboot getvar all on ${adb.fastbootSerial} failed: ${firstLine(r.stderr)}`);
  return parseAbState(r.stderr, adb.fastbootSerial ?? adb.serial);
}

/** `fastboot --set-active=SLOT`: the slot boots next, its tries reset and its successful flag cleared. */
export async function setActiveSlot(adb: AdbClient, slot: AbSlot, opts: ShellOptions): Promise<void> {
  const r = await adb.fastboot([`--set-active=${slot}`], opts);
  if (r.exitCode === 0 && !/FAILED/.test(r.stderr)) return;
  const remote = /FAILED \(remote: '(.*)'\)$/m.exec(r.stderr);
  if (remote) throw new LabError("TEST_FAILED", `the bootloader refused to make slot ${slot} active: ${remote[1]}`);
  throw new LabError("LINK_CLOSED", `fastboot --set-active=${slot} on ${adb.fastbootSerial} failed: ${firstLine(r.stderr)}`);
}

/** The slot Android is running from (`ro.boot.slot_suffix`); null on a device without A/B. */
export async function runningSlot(adb: AdbClient, timeoutMs = 10_000): Promise<AbSlot | null> {
  return slotOf(await adb.getprop("ro.boot.slot_suffix", timeoutMs));
}
