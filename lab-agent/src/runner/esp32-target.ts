import { readFile } from "node:fs/promises";
import { LabError } from "@hil/contracts";
import type { Chip, DeviceProfile, Esp32Profile, OtaTrigger } from "@hil/device-profiles";
import { ConsoleCapture } from "../console/console-capture.js";
import { ConsoleYieldingLink } from "../console/console-yielding-link.js";
import { Esp32FlashDriver, type FlashReport } from "../drivers/esp32/esp32-flash-driver.js";
import type { SerialLink } from "../links/serial-link.js";
import type { Esp32BoardTarget, FlashImageFile, FlashOptions, FlashSummary } from "./board-target.js";

/** Resets a board another way when its link has no DTR/RTS (virtual board control socket, relay). */
export interface BoardResetControl {
  reset(mode: "run" | "download"): Promise<void>;
}

export interface Esp32TargetOptions {
  boardId: string;
  profile: Esp32Profile;
  /** Open or not; the target opens it. */
  link: SerialLink;
  /** The board must report this MAC before anything is written (identity re-check before each flash). */
  expectedMac?: string;
  /** The agent continues a board's console sequence across runs. */
  startSeq?: number;
  control?: BoardResetControl;
  runId?: string | null;
  /** Lines the console keeps for matching; an idle console that ships lines and matches nothing keeps few. */
  consoleBuffer?: number;
  logger?: (msg: string) => void;
  /** After each successful flash (the inventory learns a discovered board's MAC from it). */
  onFlashed?: (report: FlashReport) => void;
}

/** An ESP32 board for the step runner: console capture plus the esptool-js flash driver on one link. */
export class Esp32Target implements Esp32BoardTarget {
  readonly kind = "esp32" as const;
  readonly boardId: string;
  readonly capabilities: readonly string[];
  readonly console: ConsoleCapture;
  readonly link: SerialLink;
  readonly appOffset: number;
  readonly panicPattern: RegExp;
  readonly chip: Chip;
  readonly flashSize: number;
  readonly otaTrigger: OtaTrigger | undefined;
  /** The last flash's report (chip, MAC, skipped images). */
  lastFlash: FlashReport | undefined;
  private readonly driver: Esp32FlashDriver;
  private readonly onFlashed: ((report: FlashReport) => void) | undefined;

  constructor(opts: Esp32TargetOptions) {
    this.onFlashed = opts.onFlashed;
    this.boardId = opts.boardId;
    this.link = opts.link;
    this.capabilities = opts.profile.capabilities;
    this.appOffset = opts.profile.flash.appOffset;
    this.chip = opts.profile.chip;
    this.flashSize = opts.profile.flash.size;
    this.otaTrigger = opts.profile.ota?.trigger;
    this.panicPattern = new RegExp(opts.profile.console.panicPattern);
    this.console = new ConsoleCapture(opts.link, {
      boardId: opts.boardId,
      runId: opts.runId ?? null,
      ...(opts.startSeq !== undefined ? { startSeq: opts.startSeq } : {}),
      ...(opts.consoleBuffer !== undefined ? { maxBuffered: opts.consoleBuffer } : {}),
      landmarks: opts.profile.console,
    });
    const yielding = new ConsoleYieldingLink(opts.link, {
      onBusy: () => this.console.pause(),
      onIdle: () => {
        // Whatever came before the loader session is the old firmware's; expects start after it.
        this.console.skipToEnd();
        this.console.resume();
      },
    });
    const control = opts.control;
    this.driver = new Esp32FlashDriver({
      link: yielding,
      profile: opts.profile,
      ...(opts.expectedMac !== undefined ? { expectedMac: opts.expectedMac } : {}),
      ...(control
        ? { enterDownloadMode: () => control.reset("download"), enterRunMode: () => control.reset("run") }
        : {}),
      ...(opts.logger ? { logger: opts.logger } : {}),
    });
  }

  async flash(images: FlashImageFile[], opts: FlashOptions): Promise<FlashSummary> {
    const loaded = await Promise.all(
      images.map(async (img) => {
        try {
          const data = img.data ?? new Uint8Array(await readFile(img.path));
          return { data, offset: img.offset, name: img.name, ...(img.kind ? { kind: img.kind } : {}) };
        } catch (err) {
          throw new LabError("ARTIFACT_MISSING", `cannot read artifact "${img.name}" at ${img.path}`, { cause: err });
        }
      }),
    );
    this.lastFlash = await this.driver.flash(loaded, {
      eraseAll: opts.erase,
      // A board that ran an OTA suite must boot the app flashed now, not the slot otadata still selects.
      otadata: opts.otadata ?? "reset",
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: (p) => opts.onProgress?.(p.written, p.total) } : {}),
    });
    this.onFlashed?.(this.lastFlash);
    const otadata = this.lastFlash.otadata;
    return otadata ? { otadata: otadata.summary, otadataReset: otadata.action === "reset" } : {};
  }

  async reset(mode: "run" | "download"): Promise<void> {
    this.console.skipToEnd();
    await this.driver.reset(mode);
  }

  async send(text: string): Promise<void> {
    if (!this.link.isOpen) await this.link.open();
    await this.link.write(new TextEncoder().encode(text));
  }

  async close(): Promise<void> {
    this.console.dispose();
    if (this.link.isOpen) await this.link.close();
  }
}

/** Opens the link (if needed) and builds the target. */
export async function createEsp32Target(opts: Omit<Esp32TargetOptions, "profile"> & { profile: DeviceProfile }): Promise<Esp32Target> {
  const profile = opts.profile;
  if (profile.kind !== "esp32") throw new LabError("PROFILE_INVALID", `profile ${profile.id} is for ${profile.kind} boards, not ESP32`);
  if (!opts.link.isOpen) await opts.link.open();
  return new Esp32Target({ ...opts, profile });
}
