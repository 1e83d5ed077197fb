import type { PartitionEntry } from "../../../esp32-image/partition-table.js";
import type { FlashAccess } from "./flash-access.js";
import type { LogLevel, PanicDetails, ScenarioManifest, ScenarioSpec } from "./scenario-spec.js";
import type { TimerBag } from "./timer-bag.js";

/** e.g. {code: 0x1, name: "POWERON_RESET"}, {code: 0xc, name: "SW_CPU_RESET"} (PROTOCOLS.md §D.1). */
export interface ResetReason {
  code: number;
  name: string;
}

export const SW_RESET: ResetReason = { code: 0x3, name: "SW_RESET" };
export const SW_CPU_RESET: ResetReason = { code: 0xc, name: "SW_CPU_RESET" };
export const TGWDT_CPU_RESET: ResetReason = { code: 0xb, name: "TGWDT_CPU_RESET" };
export const RTCWDT_BROWN_OUT_RESET: ResetReason = { code: 0xf, name: "RTCWDT_BROWN_OUT_RESET" };

/** What the virtual board hands the firmware after printing the ROM banner and `rst:` line. */
export interface FirmwareContext {
  /** The whole flash array (live; read at every boot). */
  flash: Uint8Array;
  /** Erase/program access to the same flash (the bootloader writes otadata, an OTA app its slot); NOR semantics over `flash` when absent. */
  storage?: FlashAccess;
  mac: string;
  resetReason: ResetReason;
  /** Board-level scenario from the command line: overrides the manifest and the image's own. */
  scenario?: ScenarioSpec;
  /** Image SHA-256 → scenario. */
  manifest?: ScenarioManifest;
  /** Console output; the text already has CRLF line ends and IDF's colours. */
  print(text: string): void;
  /** The board prints the ROM banner for `reason` and calls bootFirmware again. */
  reboot(reason: ResetReason): void;
}

export interface RunningFirmware {
  /** Bytes the host sent while the app runs. */
  input(bytes: Uint8Array): void;
  /** Reset or power off: clears every timer; nothing is printed afterwards. */
  stop(): void;
}

/** What a scenario can do; given to it by bootFirmware once `app_main()` is called. */
export interface ScenarioEnv {
  print(text: string): void;
  log(level: LogLevel, tag: string, message: string): void;
  timers: TimerBag;
  /** Prints nothing; the board prints the next ROM banner. Runs at most once per boot. */
  reboot(reason: ResetReason): void;
  /** Prints the panic handler's output, then reboots with SW_CPU_RESET. */
  panic(details: PanicDetails): void;
  app: { projectName: string; version: string; idfVersion: string; elfSha256: string };
  mac: string;
  /** The board's flash, writable (an OTA app writes its next slot and otadata). */
  flash: FlashAccess;
  /** The partition the app runs from and the table the bootloader read. */
  partition?: PartitionEntry;
  table: PartitionEntry[];
}

export interface ScenarioRunner {
  input(bytes: Uint8Array): void;
}
