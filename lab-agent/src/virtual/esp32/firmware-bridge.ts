import type { ScenarioManifest, ScenarioSpec } from "./firmware/scenario-spec.js";
import type { ResetReason } from "./reset-reasons.js";

/** What the board hands the simulated second-stage bootloader + app after the ROM banner. */
export interface FirmwareContext {
  flash: Uint8Array;
  mac: string;
  resetReason: ResetReason;
  scenario?: ScenarioSpec;
  manifest?: ScenarioManifest;
  /** Console output; CRLF already in the text. */
  print(text: string): void;
  /** Panic → SW_CPU_RESET, bootloader failure → loop, watchdog … */
  reboot(reason: ResetReason): void;
}

export interface RunningFirmware {
  input(bytes: Uint8Array): void;
  stop(): void;
}

export type BootFirmware = (ctx: FirmwareContext) => RunningFirmware;

/**
 * Stand-in until the firmware package lands: boots into silence. Kept behind the same signature
 * so swapping it for `firmware/index.ts` is a one-line change.
 */
export const bootFirmware: BootFirmware = () => ({
  input: () => undefined,
  stop: () => undefined,
});
