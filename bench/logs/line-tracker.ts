import { isProbeLine, parseCountedLine, type LatencySummary, type MeasureWindow, type ReceiverReport } from "./messages.js";

/** A growable Float64Array: millions of samples without millions of boxed numbers. */
class Samples {
  private data = new Float64Array(1 << 14);
  length = 0;

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

export function summarize(parts: readonly Float64Array[]): LatencySummary {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const all = new Float64Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  all.sort();
  const pick = (q: number) => (total === 0 ? Number.NaN : (all[Math.min(total - 1, Math.floor(q * total))] ?? Number.NaN));
  return { samples: total, p50: pick(0.5), p99: pick(0.99), max: total === 0 ? Number.NaN : (all[total - 1] ?? Number.NaN) };
}

interface BoardCount {
  last: number;
  unique: number;
  duplicates: number;
  gaps: number;
}

/**
 * One receiver's account of the lines it got: per board, counters must arrive as 1, 2, 3, … once each (a counter at
 * or below the last one is a duplicate; a jump is a loss unless the missing lines never were printed). Latency is
 * receipt minus print time, for lines printed inside the measure window.
 */
export class LineTracker {
  private readonly boards = new Map<string, BoardCount>();
  private readonly latency = new Samples();
  private readonly capture = new Samples();
  private readonly probed = new Set<string>();
  private window: MeasureWindow | undefined;
  private inWindow = 0;
  private expected: Record<string, number> | undefined;

  constructor(
    readonly name: string,
    private readonly boardIds: readonly string[],
  ) {
    for (const id of boardIds) this.boards.set(id, { last: 0, unique: 0, duplicates: 0, gaps: 0 });
  }

  /** `capturedAt` is the agent's wall-clock stamp of the line, when the receiver has it. */
  onLine(board: string, text: string, receivedAt: number, capturedAt?: number): void {
    const counted = parseCountedLine(text);
    if (!counted) {
      if (isProbeLine(text)) this.probed.add(board);
      return;
    }
    const count = this.boards.get(board);
    if (!count) return;
    if (counted.n <= count.last) {
      count.duplicates++;
      return;
    }
    count.gaps += counted.n - count.last - 1;
    count.last = counted.n;
    count.unique++;
    const w = this.window;
    if (w && receivedAt >= w.from && receivedAt < w.to) this.inWindow++;
    if (w && counted.t >= w.from && counted.t < w.to) {
      this.latency.push(receivedAt - counted.t);
      if (capturedAt !== undefined) this.capture.push(capturedAt - counted.t);
    }
  }

  /** Every board's path works: a probe line arrived from each. */
  get ready(): boolean {
    return this.probed.size === this.boardIds.length;
  }

  measure(window: MeasureWindow): void {
    this.window = window;
  }

  expect(printed: Record<string, number>): void {
    this.expected = printed;
  }

  get received(): number {
    let n = 0;
    for (const c of this.boards.values()) n += c.unique;
    return n;
  }

  /** Every board's last printed counter has arrived. */
  get complete(): boolean {
    const expected = this.expected;
    if (!expected) return false;
    return this.boardIds.every((id) => (this.boards.get(id)?.last ?? 0) >= (expected[id] ?? 0));
  }

  latencySamples(): Float64Array {
    return this.latency.view();
  }

  captureSamples(): Float64Array {
    return this.capture.view();
  }

  report(): ReceiverReport {
    return LineTracker.merge(this.name, [this]);
  }

  static merge(name: string, trackers: readonly LineTracker[]): ReceiverReport {
    let received = 0;
    let duplicates = 0;
    let lost = 0;
    let undelivered = 0;
    let inWindow = 0;
    for (const t of trackers) {
      inWindow += t.inWindow;
      for (const id of t.boardIds) {
        const c = t.boards.get(id);
        if (!c) continue;
        received += c.unique;
        duplicates += c.duplicates;
        lost += c.gaps;
        undelivered += Math.max(0, (t.expected?.[id] ?? c.last) - c.last);
      }
    }
    const captures = trackers.map((t) => t.capture.view()).filter((c) => c.length > 0);
    return {
      name,
      latency: summarize(trackers.map((t) => t.latency.view())),
      ...(captures.length > 0 ? { capture: summarize(captures) } : {}),
      received,
      receivedInWindow: inWindow,
      duplicates,
      lost,
      undelivered,
    };
  }
}
