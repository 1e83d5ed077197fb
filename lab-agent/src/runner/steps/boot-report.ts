// What one boot of an ESP-IDF board says about itself, read from its console as a person would read
// it: the reset reason, the bootloader's partition table, the offset it loaded the app from (so the
// partition's label) and the app's `App version:` from esp_app_desc_t. Works for real boards too.
import { StepTimeoutError } from "@hil/contracts";
import type { ConsoleCapture } from "../../console/console-capture.js";

export interface BootReport {
  /** e.g. SW_CPU_RESET, from the ROM's `rst:` line (absent when the boot started before we looked). */
  reset?: string;
  /** The partition table as the bootloader listed it. */
  partitions: { label: string; offset: number }[];
  offset?: number;
  partition?: string;
  version?: string;
  project?: string;
  /** The bootloader found nothing to boot (its last error line). */
  failed?: string;
  firstSeq: number;
}

const RST = /rst:0x[0-9a-f]+ \(([A-Z0-9_]+)\)/;
const PART = /boot: +\d+ (\S+)\s+.+?\s+[0-9a-f]{2} [0-9a-f]{2} ([0-9a-f]{8}) [0-9a-f]{8}\s*$/;
const LOADED = /boot: Loaded app from partition at offset 0x([0-9a-f]+)/;
const VERSION = /App version:\s+(.+?)\s*$/;
const PROJECT = /Project name:\s+(.+?)\s*$/;
const NO_APP = /boot: (No bootable app partitions in the partition table|load partition table error!)/;
const APP_MAIN = /main_task: Calling app_main\(\)/;

/** Reads lines after the console's cursor until one boot has shown its app version (or failed). */
export async function readNextBoot(console: ConsoleCapture, opts: { timeoutMs: number; signal: AbortSignal }): Promise<BootReport> {
  const deadline = Date.now() + opts.timeoutMs;
  let report: BootReport | undefined;
  for (;;) {
    let entry;
    try {
      entry = await console.readLine({ timeoutMs: Math.max(0, deadline - Date.now()), signal: opts.signal });
    } catch (err) {
      if (err instanceof StepTimeoutError) {
        const seen = report ? `a boot started (${describeBoot(report)}) but never printed its app version` : "no boot (no `rst:` or bootloader line)";
        throw new StepTimeoutError(`${seen} within ${Math.round(opts.timeoutMs / 1000)} s; last lines:\n${console.tail(8)}`);
      }
      throw err;
    }
    const text = entry.plain;
    const rst = RST.exec(text);
    if (rst) {
      report = { reset: rst[1] ?? "", partitions: [], firstSeq: entry.line.seq };
      continue;
    }
    const isBootLine = PART.test(text) || LOADED.test(text) || NO_APP.test(text);
    if (!report && !isBootLine) continue;
    report ??= { partitions: [], firstSeq: entry.line.seq };
    const part = PART.exec(text);
    if (part) {
      report.partitions.push({ label: part[1] ?? "", offset: Number.parseInt(part[2] ?? "0", 16) });
      continue;
    }
    const loaded = LOADED.exec(text);
    if (loaded) {
      report.offset = Number.parseInt(loaded[1] ?? "0", 16);
      const label = report.partitions.find((p) => p.offset === report?.offset)?.label;
      if (label !== undefined) report.partition = label;
      continue;
    }
    const project = PROJECT.exec(text);
    if (project) report.project = project[1] ?? "";
    const version = VERSION.exec(text);
    if (version) {
      report.version = version[1] ?? "";
      return report;
    }
    const none = NO_APP.exec(text);
    if (none) {
      report.failed = none[1] ?? "";
      return report;
    }
    // An app without esp_app_desc_t never prints a version: its app_main ends the boot.
    if (APP_MAIN.test(text) && report.offset !== undefined) return report;
  }
}

/** `2.0.0 from ota_1 (0x190000) after SW_CPU_RESET`. */
export function describeBoot(r: BootReport): string {
  if (r.failed !== undefined) return `the bootloader found no bootable app (${r.failed})`;
  const where = r.offset === undefined ? "an unknown partition" : `${r.partition ?? "partition"} (0x${r.offset.toString(16)})`;
  return `${r.version ?? "an app without version"} from ${where}${r.reset ? ` after ${r.reset}` : ""}`;
}

/** The step details of a boot. */
export function bootDetails(r: BootReport): Record<string, string | number | null> {
  return {
    version: r.version ?? null,
    partition: r.partition ?? null,
    offset: r.offset === undefined ? null : `0x${r.offset.toString(16)}`,
    reset: r.reset ?? null,
    project: r.project ?? null,
  };
}

/** Which expectations a boot misses, in words (empty when it meets them). */
export function bootMismatches(r: BootReport, want: { version?: string | undefined; partition?: string | undefined }): string[] {
  const misses: string[] = [];
  if (r.failed !== undefined) misses.push(r.failed);
  if (want.version !== undefined && r.version !== want.version) misses.push(`version ${r.version ?? "(none printed)"} is not ${want.version}`);
  if (want.partition !== undefined && r.partition !== want.partition) misses.push(`partition ${r.partition ?? "(unknown)"} is not ${want.partition}`);
  return misses;
}
