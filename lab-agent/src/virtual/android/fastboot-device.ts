import { createHash } from "node:crypto";
import { BootControl, isSlot, SLOTS, type Slot } from "./boot-control.js";

/** A partition the bootloader knows; A/B ones exist as `<name>_a` and `<name>_b`. */
export interface PartitionSpec {
  name: string;
  size: number;
  abSlotted: boolean;
  type: "raw" | "ext4" | "f2fs";
}

export interface FlashedImage {
  size: number;
  sha256: string;
  data: Buffer;
}

export const DEFAULT_PARTITIONS: PartitionSpec[] = [
  { name: "boot", size: 64 * 1024 * 1024, abSlotted: true, type: "raw" },
  { name: "dtbo", size: 8 * 1024 * 1024, abSlotted: true, type: "raw" },
  { name: "vbmeta", size: 64 * 1024, abSlotted: true, type: "raw" },
  { name: "system", size: 3 * 1024 * 1024 * 1024, abSlotted: true, type: "ext4" },
  { name: "vendor", size: 1024 * 1024 * 1024, abSlotted: true, type: "ext4" },
  { name: "userdata", size: 8 * 1024 * 1024 * 1024, abSlotted: false, type: "f2fs" },
  { name: "misc", size: 1024 * 1024, abSlotted: false, type: "raw" },
  { name: "metadata", size: 16 * 1024 * 1024, abSlotted: false, type: "ext4" },
];

/** What a command asks the board to do after its final response went out. */
export type FastbootAfter = "reboot" | "reboot-bootloader" | "boot" | null;

export interface FastbootReply {
  /** Whole responses, each `OKAY…`, `FAIL…`, `INFO…` or `DATA%08x`, ≤ 256 bytes. */
  responses: string[];
  /** For `download:`: the byte count to receive next. */
  expectData?: number;
  after?: FastbootAfter;
}

/**
 * The virtual board's rule for a broken build: a slot whose flashed images carry this text in their
 * first 64 KiB never finishes booting (a kernel that panics, a watchdog reset), as a suite's
 * deliberately bad update image would on hardware.
 */
export const UNBOOTABLE_MARKER = "HIL-UNBOOTABLE";
const MARKER_WINDOW = 64 * 1024;

export interface FastbootIdentity {
  product: string;
  serial: string;
}

/** The bootloader's state and its command set (AOSP `fastboot/README.md`, PROTOCOLS.md §C). */
export class FastbootDevice {
  readonly partitions = new Map<string, PartitionSpec>();
  readonly images = new Map<string, FlashedImage>();
  /** A/B slot metadata; survives reboots like the bootloader's `misc` partition. */
  readonly bootControl = new BootControl();
  /** Slots whose every boot fails whatever their images (the control socket's `slot-fail`). */
  readonly failingSlots = new Set<Slot>();
  unlocked = true;
  maxDownloadSize = 512 * 1024 * 1024;
  private download: Buffer | null = null;

  constructor(
    private readonly identity: FastbootIdentity,
    partitions: PartitionSpec[] = DEFAULT_PARTITIONS,
  ) {
    for (const p of partitions) this.partitions.set(p.name, p);
  }

  /** The slot the bootloader boots next. */
  get currentSlot(): Slot {
    return this.bootControl.active;
  }

  /** Whether a boot of `slot` would complete: no fault on it and no image of it marked broken. */
  slotBootsFine(slot: Slot): boolean {
    if (this.failingSlots.has(slot)) return false;
    for (const [name, image] of this.images) {
      if (!name.endsWith(`_${slot}`)) continue;
      if (image.data.subarray(0, MARKER_WINDOW).includes(UNBOOTABLE_MARKER)) return false;
    }
    return true;
  }

  /** `boot` → `boot_a` on the current slot for A/B partitions; null if unknown. */
  resolve(partition: string): { name: string; spec: PartitionSpec } | null {
    const m = /^(.*)_([ab])$/.exec(partition);
    const base = m && this.partitions.get(m[1]!)?.abSlotted ? m[1]! : partition;
    const spec = this.partitions.get(base);
    if (!spec) return null;
    if (!spec.abSlotted) return { name: base, spec };
    return { name: `${base}_${m?.[2] ?? this.currentSlot}`, spec };
  }

  variables(): [string, string][] {
    const vars: [string, string][] = [
      ["version", "0.4"],
      ["version-bootloader", "hil-virtual-1.0"],
      ["version-baseband", "N/A"],
      ["product", this.identity.product],
      ["serialno", this.identity.serial],
      ["secure", this.unlocked ? "no" : "yes"],
      ["unlocked", this.unlocked ? "yes" : "no"],
      ["is-userspace", "no"],
      ["max-download-size", `0x${this.maxDownloadSize.toString(16)}`],
      ...this.bootControl.variables(),
    ];
    for (const p of this.partitions.values()) {
      const names = p.abSlotted ? [`${p.name}_a`, `${p.name}_b`] : [p.name];
      vars.push([`has-slot:${p.name}`, p.abSlotted ? "yes" : "no"]);
      for (const n of names) vars.push([`partition-size:${n}`, `0x${p.size.toString(16)}`], [`partition-type:${n}`, p.type], [`is-logical:${n}`, "no"]);
    }
    return vars;
  }

  getvar(name: string): string | null {
    const direct = this.variables().find(([k]) => k === name);
    if (direct) return direct[1];
    // Slot-less questions about A/B partitions (`is-logical:boot`) answer for the current slot.
    const m = /^(partition-size|partition-type|is-logical):(.+)$/.exec(name);
    const resolved = m ? this.resolve(m[2]!) : null;
    if (m && resolved) return this.variables().find(([k]) => k === `${m[1]}:${resolved.name}`)?.[1] ?? null;
    return null;
  }

  /** Stores a completed download. */
  acceptDownload(data: Buffer): void {
    this.download = data;
  }

  handle(command: string): FastbootReply {
    const [verb, ...restParts] = command.split(":");
    const arg = restParts.join(":");
    switch (verb) {
      case "getvar": {
        if (arg === "all") {
          const infos = this.variables().map(([k, v]) => `INFO${k}:${v}`);
          return { responses: [...infos, "OKAY"] };
        }
        const value = this.getvar(arg);
        return { responses: [value === null ? "FAILGetVar Variable Not found" : `OKAY${value}`] };
      }
      case "download": {
        if (!/^[0-9a-fA-F]{8}$/.test(arg)) return { responses: ["FAILinvalid download size"] };
        const size = parseInt(arg, 16);
        if (size === 0 || size > this.maxDownloadSize) return { responses: [`FAILdata too large (max 0x${this.maxDownloadSize.toString(16)})`] };
        return { responses: [`DATA${arg.toLowerCase()}`], expectData: size };
      }
      case "flash": {
        if (!this.unlocked) return { responses: ["FAILFlashing is not allowed in Lock State"] };
        const target = this.resolve(arg);
        if (!target) return { responses: [`FAILpartition (${arg}) doesn't exist`] };
        if (!this.download) return { responses: ["FAILno image downloaded"] };
        if (this.download.length > target.spec.size) return { responses: [`FAILsize too large for partition ${target.name}`] };
        const data = this.download;
        this.images.set(target.name, { size: data.length, sha256: createHash("sha256").update(data).digest("hex"), data });
        return { responses: [`INFOwriting ${target.name}`, "OKAY"] };
      }
      case "erase": {
        if (!this.unlocked) return { responses: ["FAILErasing is not allowed in Lock State"] };
        const target = this.resolve(arg);
        if (!target) return { responses: [`FAILpartition (${arg}) doesn't exist`] };
        this.images.delete(target.name);
        return { responses: [`INFOerasing ${target.name}`, "OKAY"] };
      }
      case "set_active": {
        const slot = arg.replace(/^_/, "");
        if (!isSlot(slot)) return { responses: [`FAILinvalid slot ${arg}; this device has slots ${SLOTS.join(", ")}`] };
        this.bootControl.setActive(slot);
        return { responses: ["OKAY"] };
      }
      case "reboot":
        return { responses: ["OKAY"], after: arg === "bootloader" ? "reboot-bootloader" : "reboot" };
      case "reboot-bootloader":
      case "reboot-fastboot":
        return { responses: ["OKAY"], after: "reboot-bootloader" };
      case "reboot-recovery":
      case "continue":
        return { responses: ["OKAY"], after: "reboot" };
      case "boot":
        if (!this.download) return { responses: ["FAILno image downloaded"] };
        return { responses: ["OKAY"], after: "boot" };
      default:
        if (command.startsWith("oem ") || command === "oem") return { responses: [`FAILoem commands are not supported`] };
        return { responses: [`FAILunknown command ${command.slice(0, 40)}`] };
    }
  }
}
