/**
 * What the log benchmark's processes say to each other over their IPC channel (child_process.fork), and the line
 * format the bench boards print. Every process stamps and reads times with `wallNow()`, the same clock.
 */

/** Epoch milliseconds with a fraction: the wall clock at start-up plus the monotonic clock since. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

/** A board's counted line carries its print time and its per-board counter; a probe line carries neither. */
export function formatCountedLine(uptimeMs: number, t: number, n: number): string {
  return `I (${Math.floor(uptimeMs)}) bench: t=${t.toFixed(3)} n=${n}\r\n`;
}

export function formatProbeLine(uptimeMs: number): string {
  return `I (${Math.floor(uptimeMs)}) bench: probe\r\n`;
}

const COUNTED = /t=(\d+(?:\.\d+)?) n=(\d+)/;

export function parseCountedLine(text: string): { t: number; n: number } | undefined {
  const m = COUNTED.exec(text);
  return m ? { t: Number(m[1]), n: Number(m[2]) } : undefined;
}

export function isProbeLine(text: string): boolean {
  return text.endsWith("bench: probe");
}

/** The window whose lines count for latency (print time inside it); every line counts for loss. */
export interface MeasureWindow {
  from: number;
  to: number;
}

/** Latency figures of one receiver (or several merged), in milliseconds. */
export interface LatencySummary {
  samples: number;
  p50: number;
  p99: number;
  max: number;
}

/** What a receiver (socket.io client, browser page, bare reader) got, per board and in total. */
export interface ReceiverReport {
  name: string;
  latency: LatencySummary;
  /** Board print → the agent's capture (LogLine.wall, whole milliseconds); lab receivers only. */
  capture?: LatencySummary;
  /** Counted lines received once, summed over boards. */
  received: number;
  /** Lines received while the measure window lasted (whenever printed): the throughput the CPU figures go with. */
  receivedInWindow: number;
  /** Lines that arrived with a counter at or below one already received. */
  duplicates: number;
  /** Counted lines skipped over: a later line of the same board arrived, these never will (in-order delivery). */
  lost: number;
  /** Counted lines after the last one received, still missing when the drain limit ran out (the lab fell behind). */
  undelivered: number;
}

// --- boards process -------------------------------------------------------------------------------------

export type BoardsRequest =
  | { type: "probe" }
  | { type: "start"; at: number; rate: number; mode: "serial" | "redis" }
  | { type: "stop" };

export type BoardsReply =
  | { type: "listening"; boards: { id: string; url: string }[] }
  | { type: "started" }
  | { type: "stopped"; printed: Record<string, number>; lateTicks: number; seconds: number };

// --- receivers process ----------------------------------------------------------------------------------

export type ReceiversRequest =
  | { type: "measure"; window: MeasureWindow }
  | { type: "expect"; printed: Record<string, number> }
  | { type: "report" }
  | { type: "close" };

export type ReceiversReply =
  | { type: "joined" }
  | { type: "ready" }
  | { type: "progress"; complete: boolean; received: number }
  | { type: "report"; receivers: ReceiverReport[]; merged: ReceiverReport };
