import type { StepType } from "@hil/contracts";
import type { ConsoleCapture } from "../console/console-capture.js";

/** One file to write to a board's flash. */
export interface FlashImageFile {
  /** The suite's artifact name (for messages). */
  name: string;
  path: string;
  offset: number;
}

export interface FlashOptions {
  erase: boolean;
  signal?: AbortSignal;
  onProgress?: (written: number, total: number) => void;
}

/**
 * What the step runner drives: one board in one role. An ESP32 target is built on a SerialLink
 * (esp32-target.ts); tests use targets over in-memory links. Android targets come later.
 */
export interface BoardTarget {
  readonly boardId: string;
  readonly kind: "esp32" | "android";
  readonly console: ConsoleCapture;
  /** Where an app image goes when a flash step gives no offset (the profile's appOffset). */
  readonly appOffset: number;
  /** The profile's panic regex, so a Unity run can tell a crash from a failing assertion. */
  readonly panicPattern: RegExp;
  supports(type: StepType): boolean;
  /** Writes the images and leaves the board running the new firmware. */
  flash(images: FlashImageFile[], opts: FlashOptions): Promise<void>;
  reset(mode: "run" | "download"): Promise<void>;
  /** Writes text to the board's console as is. */
  send(text: string): Promise<void>;
  close(): Promise<void>;
}

export const ESP32_STEP_TYPES: readonly StepType[] = ["flash", "reset", "expect", "expect-not", "send", "unity", "wait"];
