import type { BoardKind, Chip, OtaTrigger } from "@hil/device-profiles";
import type { ConsoleCapture } from "../console/console-capture.js";

/** One file to write to a board's flash. */
export interface FlashImageFile {
  /** The suite's artifact name (for messages). */
  name: string;
  path: string;
  offset: number;
  /** The bytes, when they are not a file of their own (a part of an ESP-IDF build archive). */
  data?: Uint8Array;
  /** "app" checks it as an ESP image; "raw" only size and alignment; default: decided by its first byte and offset. */
  kind?: "app" | "raw";
}

export interface FlashOptions {
  erase: boolean;
  /** Blank otadata when an app goes to an app partition of an OTA table ("reset", the default), or leave it. */
  otadata?: "reset" | "keep";
  signal?: AbortSignal;
  onProgress?: (written: number, total: number) => void;
}

/** What a flash did beyond writing the images. */
export interface FlashSummary {
  /** What happened to otadata, e.g. "reset at 0xd000 (0x2000 bytes)". */
  otadata?: string;
  /** True when otadata was written blank (worth saying in the step's message, not only its details). */
  otadataReset?: boolean;
}

/**
 * What the step runner knows of every board, whatever its kind: who it is, what its profile says it
 * can do, and its log — a stream of stamped, sequenced lines whatever their source (a serial console,
 * logcat). Which steps it can run is decided by its kind's driver (kind-drivers.ts) and these
 * capabilities, never by the target itself.
 */
export interface BoardTarget {
  readonly boardId: string;
  readonly kind: BoardKind;
  readonly console: ConsoleCapture;
  /** The profile's capabilities (the schema allows only what the kind's driver provides). */
  readonly capabilities: readonly string[];
  close(): Promise<void>;
}

/** An ESP32 on a serial link: flash through the ROM loader, reset by DTR/RTS, type into its console. */
export interface Esp32BoardTarget extends BoardTarget {
  readonly kind: "esp32";
  /** Where an app image goes when a flash step gives no offset (the profile's appOffset). */
  readonly appOffset: number;
  /** The profile's panic regex, so a Unity run can tell a crash from a failing assertion. */
  readonly panicPattern: RegExp;
  /** The profile's chip and flash size (an ESP-IDF build is checked against them before anything is written). */
  readonly chip: Chip;
  readonly flashSize: number;
  /** How the profile says this board's app is told to update (ota.trigger without a command uses it). */
  readonly otaTrigger?: OtaTrigger | undefined;
  /** Writes the images and leaves the board running the new firmware. */
  flash(images: FlashImageFile[], opts: FlashOptions): Promise<FlashSummary | void>;
  reset(mode: "run" | "download"): Promise<void>;
  /** Writes text to the board's console as is. */
  send(text: string): Promise<void>;
}

export function isEsp32Target(t: BoardTarget): t is Esp32BoardTarget {
  return t.kind === "esp32";
}
