import { ReadlineParser } from "@serialport/parser-readline";
import { LabError, LinkClosedError, StepTimeoutError, type LogLine, type LogStream } from "@hil/contracts";
import type { Disposable, SerialLink } from "../links/serial-link.js";
import { stripAnsi } from "./ansi.js";
import { LandmarkDetector, type ConsoleLandmarks, type Landmark } from "./landmark-detector.js";

export interface ConsoleCaptureOptions {
  boardId: string;
  runId?: string | null;
  /** The agent continues a board's sequence across runs: the first line gets this seq. */
  startSeq?: number;
  /** A line without newline is flushed (as `partial`) after this much silence; default 200 ms. */
  partialFlushMs?: number;
  /** The profile's console landmarks; without them no landmark events fire. */
  landmarks?: ConsoleLandmarks;
  /** Lines kept for matching and for the run log; the oldest go first; default 200 000. */
  maxBuffered?: number;
  /** What the lines are stamped as: "serial" (default) or "logcat" (an Android board's log). */
  stream?: LogStream;
}

/** One captured line plus the text patterns are matched against. */
export interface ConsoleEntry {
  line: LogLine;
  /**
   * ANSI-stripped text of the whole logical line: for the continuation of a partial line this
   * includes the part already flushed, so a pattern spanning the split still matches.
   */
  plain: string;
}

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

const monoNow = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Longest prefix of `buf` that does not end inside a UTF-8 sequence. */
function utf8SafeLength(buf: Buffer): number {
  let i = buf.length - 1;
  let back = 0;
  while (i >= 0 && back < 3 && ((buf[i] ?? 0) & 0xc0) === 0x80) {
    i -= 1;
    back += 1;
  }
  if (i < 0) return buf.length;
  const lead = buf[i] ?? 0;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return buf.length - i >= need ? buf.length : i;
}

export function cancelledError(signal?: AbortSignal): LabError {
  const reason: unknown = signal?.reason;
  const text = reason instanceof Error ? reason.message : typeof reason === "string" ? reason : "the run was cancelled";
  return new LabError("CANCELLED", text);
}

/**
 * Reads a board's serial output as stamped lines. Every line stays in a buffer with a read cursor,
 * so a step that waits for a pattern sees every line that arrived after the previous step's match —
 * nothing is consumed by someone else's reader.
 */
export class ConsoleCapture {
  readonly boardId: string;
  private runId: string | null;
  private seq: number;
  private readonly partialFlushMs: number;
  private readonly maxBuffered: number;
  private readonly stream: LogStream;
  private parser: ReadlineParser;
  private readonly detector: LandmarkDetector | undefined;
  private readonly entries: ConsoleEntry[] = [];
  /** Absolute index of entries[0]; grows when old lines are dropped. */
  private base = 0;
  private cursorAt = 0;
  private readonly lineListeners = new Set<(l: LogLine) => void>();
  private readonly waiters = new Set<() => void>();
  private readonly subscriptions: Disposable[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  /** Bytes and text of the current line already flushed as partial lines. */
  private partialBytes = 0;
  private partialRaw = "";
  private paused = false;
  private closedWith: LabError | undefined;

  constructor(link: SerialLink, opts: ConsoleCaptureOptions) {
    this.boardId = opts.boardId;
    this.runId = opts.runId ?? null;
    this.seq = opts.startSeq ?? 0;
    this.partialFlushMs = opts.partialFlushMs ?? 200;
    this.maxBuffered = opts.maxBuffered ?? 200_000;
    this.stream = opts.stream ?? "serial";
    this.detector = opts.landmarks ? new LandmarkDetector(opts.landmarks) : undefined;
    this.parser = this.newParser();
    this.subscriptions.push(
      link.onData((chunk) => this.onBytes(chunk)),
      link.onClose((err) => this.onLinkClosed(err)),
    );
  }

  /** The seq the next line will get (the agent stores it to continue after this capture ends). */
  get nextSeq(): number {
    return this.seq;
  }

  setRun(runId: string | null): void {
    this.runId = runId;
  }

  onLine(listener: (l: LogLine) => void): Disposable {
    this.lineListeners.add(listener);
    return { dispose: () => this.lineListeners.delete(listener) };
  }

  onLandmark(listener: (l: Landmark) => void): Disposable {
    if (!this.detector) return { dispose: () => undefined };
    return this.detector.onLandmark(listener);
  }

  /** Every line still buffered, oldest first. */
  lines(fromSeq = 0): LogLine[] {
    return this.entries.filter((e) => e.line.seq >= fromSeq).map((e) => e.line);
  }

  /** The seq of the newest line, or startSeq-1 before any. */
  get lastSeq(): number {
    return this.seq - 1;
  }

  /** Moves the read cursor past everything received so far (e.g. after a reset, old output is stale). */
  skipToEnd(): void {
    this.cursorAt = this.base + this.entries.length;
  }

  /**
   * Stops parsing while another protocol (esptool-js's loader session) owns the link: whatever
   * console text was pending is flushed first, loader bytes are dropped.
   */
  pause(): void {
    if (this.paused) return;
    this.flushPartial();
    this.paused = true;
    this.resetParser();
  }

  resume(): void {
    if (!this.paused) return;
    this.resetParser();
    this.paused = false;
  }

  /** Next line after the cursor; waits for one. Rejects on timeout, abort or link close. */
  async readLine(opts: WaitOptions): Promise<ConsoleEntry> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      const entry = this.takeNext();
      if (entry) return entry;
      if (this.closedWith) throw this.closedWith;
      if (opts.signal?.aborted) throw cancelledError(opts.signal);
      const left = deadline - Date.now();
      if (left <= 0) throw new StepTimeoutError(`no console output for ${Math.round(opts.timeoutMs / 1000)} s`);
      await this.waitForActivity(left, opts.signal);
    }
  }

  /** Waits for a line (after the cursor) whose ANSI-stripped text matches; the cursor moves past it. */
  async expect(pattern: RegExp, opts: WaitOptions): Promise<{ match: RegExpExecArray; entry: ConsoleEntry }> {
    const deadline = Date.now() + opts.timeoutMs;
    for (;;) {
      let entry: ConsoleEntry;
      try {
        entry = await this.readLine({ timeoutMs: Math.max(0, deadline - Date.now()), signal: opts.signal });
      } catch (err) {
        if (err instanceof StepTimeoutError) {
          throw new StepTimeoutError(
            `no console line matched /${pattern.source}/ within ${Math.round(opts.timeoutMs / 1000)} s; last lines:\n${this.tail(8)}`,
          );
        }
        throw err;
      }
      pattern.lastIndex = 0;
      const match = pattern.exec(entry.plain);
      if (match) return { match, entry };
    }
  }

  /**
   * Watches for `durationMs` that no line after the cursor matches. The cursor does not move, so
   * later steps still see these lines. Throws a TEST_FAILED LabError on a match.
   */
  async expectNot(pattern: RegExp, durationMs: number, signal?: AbortSignal): Promise<void> {
    let at = Math.max(this.cursorAt, this.base);
    const until = Date.now() + durationMs;
    for (;;) {
      for (; at < this.base + this.entries.length; at++) {
        const entry = this.entries[at - this.base];
        pattern.lastIndex = 0;
        if (entry && pattern.test(entry.plain)) {
          throw new LabError("TEST_FAILED", `line ${entry.line.seq} matched /${pattern.source}/, which must not appear: ${entry.plain}`);
        }
      }
      if (this.closedWith) throw this.closedWith;
      if (signal?.aborted) throw cancelledError(signal);
      const left = until - Date.now();
      if (left <= 0) return;
      await this.waitForActivity(left, signal);
    }
  }

  /** The last `n` lines as text, for error messages. */
  tail(n: number): string {
    return this.entries
      .slice(-n)
      .map((e) => `  ${e.plain}`)
      .join("\n");
  }

  /** Detaches from the link; pending reads reject. */
  dispose(): void {
    this.flushPartial();
    this.detector?.flush();
    for (const s of this.subscriptions.splice(0)) s.dispose();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (!this.closedWith) this.closedWith = new LinkClosedError("console capture stopped");
    this.wake();
  }

  private takeNext(): ConsoleEntry | undefined {
    if (this.cursorAt < this.base) this.cursorAt = this.base;
    const entry = this.entries[this.cursorAt - this.base];
    if (entry) this.cursorAt += 1;
    return entry;
  }

  private waitForActivity(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private newParser(): ReadlineParser {
    const parser = new ReadlineParser({ delimiter: "\n", encoding: "utf8" });
    parser.on("data", (text: string) => this.onParsedLine(text));
    return parser;
  }

  private resetParser(): void {
    this.parser.removeAllListeners("data");
    this.parser.destroy();
    this.parser = this.newParser();
    this.partialBytes = 0;
    this.partialRaw = "";
  }

  private onBytes(chunk: Uint8Array): void {
    if (this.paused || this.closedWith) return;
    this.parser.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => this.flushPartial(), this.partialFlushMs);
  }

  private onParsedLine(text: string): void {
    const full = text.endsWith("\r") ? text.slice(0, -1) : text;
    const hadPartial = this.partialRaw.length > 0;
    const logical = full;
    const rest = hadPartial && full.startsWith(this.partialRaw) ? full.slice(this.partialRaw.length) : full;
    this.partialBytes = 0;
    this.partialRaw = "";
    // A prompt flushed earlier and then ended by a bare newline: nothing new to show.
    if (hadPartial && rest.length === 0) {
      this.detector?.push(this.seq - 1, stripAnsi(logical));
      return;
    }
    const seq = this.emit(rest, stripAnsi(logical), false);
    this.detector?.push(seq, stripAnsi(logical));
  }

  private flushPartial(): void {
    if (this.paused) return;
    const pending = this.parser.buffer;
    let end = utf8SafeLength(pending);
    if (end > 0 && pending[end - 1] === 0x0d) end -= 1;
    if (end <= this.partialBytes) return;
    const text = pending.subarray(this.partialBytes, end).toString("utf8");
    this.partialBytes = end;
    this.partialRaw += text;
    this.emit(text, stripAnsi(this.partialRaw), true);
  }

  private emit(text: string, plain: string, partial: boolean): number {
    const line: LogLine = {
      board: this.boardId,
      run: this.runId,
      seq: this.seq,
      mono: monoNow(),
      wall: Date.now(),
      stream: this.stream,
      text,
    };
    if (partial) line.partial = true;
    this.seq += 1;
    this.entries.push({ line, plain });
    if (this.entries.length > this.maxBuffered) {
      const drop = this.entries.length - this.maxBuffered;
      this.entries.splice(0, drop);
      this.base += drop;
    }
    for (const l of [...this.lineListeners]) l(line);
    this.wake();
    return line.seq;
  }

  private onLinkClosed(err?: LinkClosedError): void {
    this.flushPartial();
    this.detector?.flush();
    this.closedWith = err ?? new LinkClosedError("the serial link was closed");
    this.wake();
  }
}
