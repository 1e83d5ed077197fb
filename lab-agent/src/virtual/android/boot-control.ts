export type Slot = "a" | "b";
export const SLOTS: readonly Slot[] = ["a", "b"];

/** libavb_ab's limits (`avb_ab_flow.h`): priority 0–15, at most 7 boot attempts of an unproven slot. */
export const MAX_PRIORITY = 15;
export const MAX_TRIES = 7;

/** One slot's A/B metadata, as the bootloader keeps it in `misc` (AVB_AB_MAGIC "\0AB0"). */
export interface SlotMetadata {
  /** 0 = unbootable; the bootable slot with the highest priority is the active one. */
  priority: number;
  /** Boot attempts left before an unproven slot is given up. */
  triesRemaining: number;
  /** Set by the OS once a boot of this slot completed (update_verifier, `bootctl mark-successful`). */
  successful: boolean;
}

/** One boot attempt the bootloader made, for the boot log and tests. */
export interface BootAttempt {
  slot: Slot;
  /** Tries left after this attempt was counted. */
  triesLeft: number;
  booted: boolean;
}

export interface SlotChoice {
  /** The slot that booted, or null when no slot is bootable (the device stays in its bootloader). */
  slot: Slot | null;
  attempts: BootAttempt[];
  /** Slots given up during this boot. */
  markedUnbootable: Slot[];
}

export const otherSlot = (slot: Slot): Slot => (slot === "a" ? "b" : "a");

export function isSlot(value: string): value is Slot {
  return value === "a" || value === "b";
}

/**
 * The boot_control HAL's view of two slots with libavb_ab semantics: `setActive` gives a slot the
 * top priority and a fresh set of tries; each boot of a slot not yet marked successful spends one
 * try; a slot whose tries run out is unbootable (priority 0) and the other slot boots instead.
 */
export class BootControl {
  private readonly slots: Record<Slot, SlotMetadata>;

  constructor() {
    // A factory-fresh device: slot a booted before and is proven, slot b holds an older build.
    this.slots = {
      a: { priority: MAX_PRIORITY, triesRemaining: 0, successful: true },
      b: { priority: MAX_PRIORITY - 1, triesRemaining: MAX_TRIES, successful: false },
    };
  }

  metadata(slot: Slot): Readonly<SlotMetadata> {
    return { ...this.slots[slot] };
  }

  isBootable(slot: Slot): boolean {
    const m = this.slots[slot];
    return m.priority > 0 && (m.successful || m.triesRemaining > 0);
  }

  isUnbootable(slot: Slot): boolean {
    return !this.isBootable(slot);
  }

  /** The slot the next boot tries first (`getvar current-slot`); slot a when neither is bootable. */
  get active(): Slot {
    const [a, b] = [this.isBootable("a") ? this.slots.a.priority : -1, this.isBootable("b") ? this.slots.b.priority : -1];
    return b > a ? "b" : "a";
  }

  /** `fastboot set_active` / `bootctl set-active-boot-slot`: this slot boots next, with its tries reset. */
  setActive(slot: Slot): void {
    const other = this.slots[otherSlot(slot)];
    if (other.priority >= MAX_PRIORITY) other.priority = MAX_PRIORITY - 1;
    this.slots[slot] = { priority: MAX_PRIORITY, triesRemaining: MAX_TRIES, successful: false };
  }

  markUnbootable(slot: Slot): void {
    this.slots[slot] = { priority: 0, triesRemaining: 0, successful: false };
  }

  /** The running OS proved the slot: it no longer spends tries. */
  markSuccessful(slot: Slot): void {
    if (!this.isBootable(slot)) return;
    this.slots[slot].successful = true;
    this.slots[slot].triesRemaining = 0;
  }

  /**
   * What the bootloader does at power-on: take the active slot, count an attempt if it is unproven,
   * and, while its image cannot boot (each failed attempt ends in a watchdog reset), spend its tries
   * until it is unbootable and the other slot takes over.
   */
  chooseBootSlot(bootsFine: (slot: Slot) => boolean): SlotChoice {
    const attempts: BootAttempt[] = [];
    const markedUnbootable: Slot[] = [];
    // Two slots with at most MAX_TRIES attempts each (plus one for a proven slot): the loop ends.
    for (let guard = 0; guard < 2 * (MAX_TRIES + 1); guard++) {
      const slot = this.active;
      if (!this.isBootable(slot)) return { slot: null, attempts, markedUnbootable };
      const m = this.slots[slot];
      if (!m.successful) m.triesRemaining -= 1;
      const booted = bootsFine(slot);
      attempts.push({ slot, triesLeft: m.triesRemaining, booted });
      if (booted) return { slot, attempts, markedUnbootable };
      // A proven slot that stops booting is given up at once, as an unproven one whose tries ran out.
      if (m.successful || m.triesRemaining <= 0) {
        this.markUnbootable(slot);
        markedUnbootable.push(slot);
      }
    }
    return { slot: null, attempts, markedUnbootable };
  }

  /** `getvar` variables a real A/B bootloader answers (AOSP `fastboot/README.md`). */
  variables(): [string, string][] {
    const vars: [string, string][] = [["current-slot", this.active], ["slot-count", String(SLOTS.length)]];
    for (const s of SLOTS) {
      const m = this.slots[s];
      vars.push([`slot-successful:${s}`, m.successful ? "yes" : "no"], [`slot-unbootable:${s}`, this.isUnbootable(s) ? "yes" : "no"], [`slot-retry-count:${s}`, String(m.triesRemaining)]);
    }
    return vars;
  }
}
