/**
 * The recovery ladder as data and one pure decision function (docs/scheduler.md, "Board health"). A board that
 * failed `HIL_QUARANTINE_AFTER` runs in a row for infrastructure reasons is taken out of service and climbs the
 * ladder: each step is tried, then the board's health check runs; a passing check returns the board, a failing one
 * moves to the next step; after the last step the board stays quarantined with the reason, and later scheduled
 * checks still return it once one passes.
 */
export const RECOVERY_STEPS = ["reset", "power-cycle", "reflash"] as const;
export type RecoveryStep = (typeof RECOVERY_STEPS)[number];

/** What the lab can do to this board, as far as the scheduler knows. */
export interface BoardAbilities {
  kind: string;
  virtual: boolean;
  /** The lab has a known-good image for this board's kind (ESP32: built in, or HIL_HEALTH_IMAGE_ESP32). */
  knownGoodImage: boolean;
}

/** Why a step cannot be done on this board, or undefined when it can. */
export function skipReason(step: RecoveryStep, b: BoardAbilities): string | undefined {
  switch (step) {
    case "reset":
      return undefined;
    case "power-cycle":
      // a real board's power goes through its USB hub port, which needs libusb bindings the lab does not ship
      return b.virtual ? undefined : "no USB hub port power control on this lab (the usb package is not installed)";
    case "reflash":
      if (b.kind !== "esp32") return `no known-good image for ${b.kind} boards`;
      return b.knownGoodImage ? undefined : "no known-good ESP32 image (set HIL_HEALTH_IMAGE_ESP32)";
  }
}

/** Where a board's recovery stands: the index in RECOVERY_STEPS of the step last taken (-1: none yet). */
export interface LadderPosition {
  step: number;
}

export type LadderEvent = { type: "infra-threshold" } | { type: "check-passed" } | { type: "check-failed"; inRecovery: boolean; quarantined: boolean };

export type LadderDecision =
  /** Record these skipped steps, then take `step` and run the health check after it. */
  | { action: "step"; step: RecoveryStep; index: number; skipped: { step: RecoveryStep; why: string }[] }
  /** Every step was tried (or skipped): stay quarantined, with the reason; scheduled checks may still return it. */
  | { action: "give-up"; skipped: { step: RecoveryStep; why: string }[] }
  /** The check passed: back in service (if it was out). */
  | { action: "return" }
  /** A failed scheduled check of a board that is out of service already and done with the ladder: nothing changes. */
  | { action: "stay" };

/** The first step from `from` on that can be done, with the ones skipped on the way. */
function climb(from: number, b: BoardAbilities): LadderDecision {
  const skipped: { step: RecoveryStep; why: string }[] = [];
  for (let i = Math.max(0, from); i < RECOVERY_STEPS.length; i++) {
    const step = RECOVERY_STEPS[i]!;
    const why = skipReason(step, b);
    if (why === undefined) return { action: "step", step, index: i, skipped };
    skipped.push({ step, why });
  }
  return { action: "give-up", skipped };
}

/**
 * The next move. `position` is the board's ladder position while it is in recovery. A failed check of an
 * in-service board (a scheduled check) starts the ladder as repeated infrastructure failures do.
 */
export function decideRecovery(event: LadderEvent, position: LadderPosition | undefined, b: BoardAbilities): LadderDecision {
  if (event.type === "check-passed") return { action: "return" };
  if (event.type === "infra-threshold") return climb(0, b);
  if (event.inRecovery && position) return climb(position.step + 1, b);
  if (event.quarantined) return { action: "stay" };
  return climb(0, b);
}
