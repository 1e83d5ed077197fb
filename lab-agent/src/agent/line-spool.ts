import { closeSync, mkdirSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { LogLine } from "@hil/contracts";

/** Bytes read from the spill file at a time. */
const READ_CHUNK = 1 << 20;
/** Spilled lines written to the file together. */
const WRITE_EVERY = 500;

export interface LineSpoolOptions {
  /** Lines kept in memory; past this, lines go to `file` until it has been read back. */
  maxInMemory: number;
  /** The spill file (JSON lines); made on the first spill, emptied whenever it has been read back. */
  file: string;
}

/**
 * A FIFO of log lines waiting for Redis, bounded in memory: while more than `maxInMemory` wait, the newest go to a
 * file and come back, in order, as the oldest leave. Lines taken and not written can be put back at the front.
 * The file is this process's alone and only a buffer: a restarted agent starts it empty.
 */
export class LineSpool {
  private head: LogLine[] = [];
  /** Spilled lines still to be written to the file. */
  private pendingWrite: string[] = [];
  /** Lines in the file not yet read back, plus pendingWrite. */
  private spilled = 0;
  private fd: number | undefined;
  private readAt = 0;
  private writeAt = 0;
  /** Bytes of a line cut by the end of the last chunk read (a UTF-8 character may be cut too). */
  private carry = Buffer.alloc(0);

  constructor(private readonly opts: LineSpoolOptions) {}

  get length(): number {
    return this.head.length + this.spilled;
  }

  /** Lines in the spill file or on their way to it. */
  get spilledLines(): number {
    return this.spilled;
  }

  push(line: LogLine): void {
    // once anything is spilled, every newer line goes behind it
    if (this.spilled === 0 && this.head.length < this.opts.maxInMemory) {
      this.head.push(line);
      return;
    }
    this.pendingWrite.push(JSON.stringify(line));
    this.spilled++;
    if (this.pendingWrite.length >= WRITE_EVERY) this.writePending();
  }

  /** Up to `n` of the oldest lines. */
  take(n: number): LogLine[] {
    if (this.head.length < n && this.spilled > 0) this.refill();
    if (this.head.length <= n) {
      const all = this.head;
      this.head = [];
      return all;
    }
    const out = this.head.slice(0, n);
    this.head = this.head.slice(n);
    return out;
  }

  /** Lines taken and not written go back in front of everything else (the bound may be passed by them). */
  putBack(lines: LogLine[]): void {
    if (lines.length > 0) this.head = lines.concat(this.head);
  }

  /** Removes the spill file (the agent is stopping). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.opts.file, { force: true });
  }

  private writePending(): void {
    if (this.pendingWrite.length === 0) return;
    if (this.fd === undefined) {
      mkdirSync(dirname(this.opts.file), { recursive: true });
      // "w+": what an earlier process left is not ours to send (its sequence numbers were re-read from Redis)
      this.fd = openSync(this.opts.file, "w+", 0o600);
      this.readAt = this.writeAt = 0;
    }
    const bytes = Buffer.from(this.pendingWrite.join("\n") + "\n");
    this.pendingWrite = [];
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, this.writeAt + done);
    this.writeAt += bytes.length;
  }

  /** Reads spilled lines back into memory, up to the bound. */
  private refill(): void {
    this.writePending();
    const fd = this.fd;
    if (fd === undefined) return;
    const room = Math.max(1, this.opts.maxInMemory - this.head.length);
    const buf = Buffer.alloc(READ_CHUNK);
    let got = 0;
    while (got < room && this.readAt < this.writeAt) {
      const n = readSync(fd, buf, 0, Math.min(READ_CHUNK, this.writeAt - this.readAt), this.readAt);
      if (n <= 0) break;
      this.readAt += n;
      const bytes = Buffer.concat([this.carry, buf.subarray(0, n)]);
      const end = bytes.lastIndexOf(0x0a) + 1;
      this.carry = Buffer.from(bytes.subarray(end));
      for (const row of bytes.subarray(0, end).toString("utf8").split("\n")) {
        if (row === "") continue;
        this.head.push(JSON.parse(row) as LogLine);
        this.spilled--;
        got++;
      }
    }
    if (this.readAt >= this.writeAt && this.carry.length === 0) {
      // read back whole: the file starts over, so it never grows past one outage's overflow
      closeSync(fd);
      this.fd = undefined;
      rmSync(this.opts.file, { force: true });
    }
  }
}
