export type LogBufferName = "main" | "system" | "crash" | "events" | "radio";

export interface LogEntry {
  buffer: LogBufferName;
  /** Wall clock in milliseconds since the epoch. */
  timeMs: number;
  pid: number;
  tid: number;
  /** 2 V, 3 D, 4 I, 5 W, 6 E, 7 F (liblog priorities). */
  priority: number;
  tag: string;
  message: string;
}

export const PRIORITY_LETTERS = ["?", "?", "V", "D", "I", "W", "E", "F", "S"] as const;

export function priorityFromLetter(letter: string): number {
  const i = PRIORITY_LETTERS.indexOf(letter.toUpperCase() as (typeof PRIORITY_LETTERS)[number]);
  return i >= 2 ? i : 2;
}

/**
 * A log line in `-v threadtime` form: `MM-DD HH:MM:SS.mmm  PID  TID P TAG     : message`
 * (liblog `android_log_formatLogLine`, PROTOCOLS.md §E.2). Multi-line messages repeat the prefix.
 */
export function formatThreadtime(e: LogEntry): string {
  const d = new Date(e.timeMs);
  const two = (n: number): string => String(n).padStart(2, "0");
  const stamp = `${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, "0")}`;
  const prefix = `${stamp} ${String(e.pid).padStart(5)} ${String(e.tid).padStart(5)} ${PRIORITY_LETTERS[e.priority] ?? "?"} ${e.tag.padEnd(8)}: `;
  return e.message.split("\n").map((line) => `${prefix}${line}\n`).join("");
}

/**
 * One entry in logger_entry v2 layout, as `logcat -B` writes it: len:u16, hdr_size:u16 (24),
 * pid:i32, tid:i32, sec:i32, nsec:i32, euid:u32, then priority:u8, tag\0, message\0
 * (liblog `log_read.h`; adbkit-logcat `parser/binary.js` reads it).
 */
export function encodeBinaryEntry(e: LogEntry): Buffer {
  const payload = Buffer.concat([Buffer.from([e.priority]), Buffer.from(`${e.tag}\0`, "utf8"), Buffer.from(`${e.message}\0`, "utf8")]);
  const header = Buffer.alloc(24);
  header.writeUInt16LE(payload.length, 0);
  header.writeUInt16LE(24, 2);
  header.writeInt32LE(e.pid, 4);
  header.writeInt32LE(e.tid, 8);
  header.writeInt32LE(Math.floor(e.timeMs / 1000), 12);
  header.writeInt32LE((e.timeMs % 1000) * 1_000_000, 16);
  header.writeUInt32LE(2000, 20);
  return Buffer.concat([header, payload]);
}

/** The device's ring buffers, with live subscribers for `logcat` without `-d`. */
export class LogcatBuffer {
  private entries: LogEntry[] = [];
  private readonly listeners = new Set<(e: LogEntry) => void>();

  constructor(private readonly capacity = 5000) {}

  append(entry: Omit<LogEntry, "timeMs" | "buffer"> & { buffer?: LogBufferName; timeMs?: number }): void {
    const e: LogEntry = { buffer: entry.buffer ?? "main", timeMs: entry.timeMs ?? Date.now(), pid: entry.pid, tid: entry.tid, priority: entry.priority, tag: entry.tag, message: entry.message };
    this.entries.push(e);
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    for (const l of this.listeners) l(e);
  }

  snapshot(buffers: ReadonlySet<LogBufferName>): LogEntry[] {
    return this.entries.filter((e) => buffers.has(e.buffer));
  }

  clear(buffers: ReadonlySet<LogBufferName>): void {
    this.entries = this.entries.filter((e) => !buffers.has(e.buffer));
  }

  subscribe(listener: (e: LogEntry) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
