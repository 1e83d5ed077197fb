import type { Disposable } from "../links/serial-link.js";

/** The `console` block of a device profile (regex sources). */
export interface ConsoleLandmarks {
  bootMarker: string;
  appStartMarker: string;
  panicPattern: string;
  prompt?: string;
  bootLoopCount: number;
}

export type Landmark =
  | { type: "boot"; seq: number; text: string }
  | { type: "app-start"; seq: number; text: string }
  /** `lines` runs from the Guru Meditation line to the backtrace / `Rebooting...`. */
  | { type: "panic"; seq: number; lines: string[] }
  | { type: "boot-loop"; seq: number; boots: number };

// After the first panic line, these end the report: IDF prints the backtrace, the ELF hash, then
// `Rebooting...` or `CPU halted.`; a ROM banner means the chip already restarted.
const PANIC_END = /^(Rebooting\.\.\.|CPU halted\.)|^ets [A-Z][a-z]{2} |^rst:0x/;
const MAX_PANIC_LINES = 60;

export function isPanicEnd(plain: string): boolean {
  return PANIC_END.test(plain.trim());
}

/**
 * Watches ANSI-stripped console lines for the profile's landmarks: boot, app start, panic (with the
 * lines that follow it) and boot loops (N boots in a row with no app start in between).
 */
export class LandmarkDetector {
  private readonly boot: RegExp;
  private readonly appStart: RegExp;
  private readonly panic: RegExp;
  private readonly loopCount: number;
  private readonly listeners = new Set<(l: Landmark) => void>();
  private bootsWithoutApp = 0;
  private loopReported = false;
  private panicLines: string[] | undefined;
  private panicSeq = 0;

  constructor(landmarks: ConsoleLandmarks) {
    this.boot = new RegExp(landmarks.bootMarker);
    this.appStart = new RegExp(landmarks.appStartMarker);
    this.panic = new RegExp(landmarks.panicPattern);
    this.loopCount = Math.max(1, landmarks.bootLoopCount);
  }

  onLandmark(listener: (l: Landmark) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Feed one complete, ANSI-stripped line. */
  push(seq: number, plain: string): void {
    if (this.panicLines) {
      const ends = isPanicEnd(plain);
      const isBanner = /^ets [A-Z][a-z]{2} |^rst:0x/.test(plain.trim());
      if (!isBanner) this.panicLines.push(plain);
      if (ends || this.panicLines.length >= MAX_PANIC_LINES) this.finishPanic();
      if (!isBanner) return;
    }
    if (this.panic.test(plain)) {
      this.panicLines = [plain];
      this.panicSeq = seq;
      return;
    }
    if (this.boot.test(plain)) {
      this.bootsWithoutApp += 1;
      this.emit({ type: "boot", seq, text: plain });
      if (this.bootsWithoutApp >= this.loopCount && !this.loopReported) {
        this.loopReported = true;
        this.emit({ type: "boot-loop", seq, boots: this.bootsWithoutApp });
      }
    }
    if (this.appStart.test(plain)) {
      this.bootsWithoutApp = 0;
      this.loopReported = false;
      this.emit({ type: "app-start", seq, text: plain });
    }
  }

  /** Ends a panic report still being collected (the board went quiet after it). */
  flush(): void {
    if (this.panicLines) this.finishPanic();
  }

  private finishPanic(): void {
    const lines = this.panicLines ?? [];
    this.panicLines = undefined;
    this.emit({ type: "panic", seq: this.panicSeq, lines });
  }

  private emit(l: Landmark): void {
    for (const listener of [...this.listeners]) listener(l);
  }
}
