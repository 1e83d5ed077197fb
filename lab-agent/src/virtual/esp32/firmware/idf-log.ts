import type { LogLevel } from "./scenario-spec.js";

/** CONFIG_LOG_COLORS: E red, W yellow, I green; D and V plain. */
const COLORS: Record<LogLevel, string | undefined> = { E: "31", W: "33", I: "32", D: undefined, V: undefined };

/** One ESP-IDF log line (`<L> (<ms>) <tag>: <message>`) with IDF's colours and a CRLF end. */
export function idfLine(level: LogLevel, ms: number, tag: string, message: string): string {
  const body = `${level} (${Math.floor(ms)}) ${tag}: ${message}`;
  const color = COLORS[level];
  return color === undefined ? `${body}\r\n` : `\x1b[0;${color}m${body}\x1b[0m\r\n`;
}

/** Text with bare `\n` line ends turned into CRLF, as the IDF console driver sends them. */
export function crlf(text: string): string {
  return text.replace(/\r?\n/g, "\r\n");
}

/**
 * The log timestamp: milliseconds since the chip came out of reset. The boot log uses plausible
 * fixed steps (it is printed in one go); once the app runs, real elapsed time is added.
 */
export class BootClock {
  private ms: number;
  private anchor: number | undefined;
  private anchorMs = 0;

  constructor(startMs = 27) {
    this.ms = startMs;
  }

  /** Advances the simulated clock by a step and returns it (boot log). */
  step(ms = 5): number {
    this.ms += ms;
    return this.ms;
  }

  /** From now on, timestamps follow the wall clock. */
  startRealTime(): void {
    this.anchor = performance.now();
    this.anchorMs = this.ms;
  }

  now(): number {
    if (this.anchor === undefined) return this.ms;
    return this.anchorMs + (performance.now() - this.anchor);
  }
}
