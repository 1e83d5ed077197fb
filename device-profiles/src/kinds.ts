import type { StepType } from "@hil/contracts";

/**
 * The one registry of board kinds: what each kind's driver provides. A profile may claim only its
 * kind's capabilities (the schema refuses others, naming the field), the agent's per-kind drivers
 * declare exactly these (a test checks they implement every step they declare), and the scheduler's
 * suite↔profile check at submit reads the profile's capabilities, so a profile can never promise a
 * step no agent can run.
 */
export const BOARD_KINDS = {
  esp32: {
    what: "ESP32 over a serial port (ROM loader, stub, console)",
    capabilities: ["flash", "reset", "console", "unity"],
  },
  android: {
    what: "Android over adb (and fastboot)",
    capabilities: ["adb", "install", "instrument", "shell", "push", "logcat", "reboot", "fastboot"],
  },
} as const;

export type BoardKind = keyof typeof BOARD_KINDS;
export const BOARD_KIND_NAMES = Object.keys(BOARD_KINDS) as BoardKind[];
export type Capability = (typeof BOARD_KINDS)[BoardKind]["capabilities"][number];

export function capabilitiesOf(kind: BoardKind): readonly Capability[] {
  return BOARD_KINDS[kind].capabilities;
}

/** The capability each step type needs (wait and ota.serve, which run on the agent, need none). */
export const STEP_CAPABILITY: Readonly<Record<StepType, Capability | undefined>> = {
  flash: "flash",
  reset: "reset",
  expect: "console",
  "expect-not": "console",
  send: "console",
  unity: "unity",
  wait: undefined,
  "android.install": "install",
  "android.instrument": "instrument",
  "android.shell": "shell",
  "android.push": "push",
  "fastboot.flash": "fastboot",
  // A/B is read from the bootloader at run time (slot-count); the step needs only a reachable bootloader.
  "android.ab-update": "fastboot",
  // OTA (docs/ota.md): serving is the agent's own work, so any board's suite may use it; the device
  // side is told and watched through its console, which every ESP32 profile has.
  "ota.serve": undefined,
  "ota.trigger": "console",
  "expect-boot": "console",
  "expect-rollback": "console",
};

/** The step types a board with these capabilities can run. */
export function stepTypesFor(capabilities: readonly string[]): StepType[] {
  return (Object.keys(STEP_CAPABILITY) as StepType[]).filter((t) => {
    const needed = STEP_CAPABILITY[t];
    return needed === undefined || capabilities.includes(needed);
  });
}
