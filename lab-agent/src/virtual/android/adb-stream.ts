import { A_CLSE, A_OKAY, A_WRTE, type AdbMessage } from "./adb-message.js";
import { ByteQueue } from "./byte-queue.js";

/** What a stream needs from its connection. */
export interface AdbStreamLink {
  send(msg: AdbMessage): void;
  readonly maxPayload: number;
  forget(localId: number): void;
}

/**
 * One ADB stream seen from the device: bytes from the host arrive in `input`; `write` sends
 * WRTEs with at most one in flight until the host's OKAY (PROTOCOLS.md §B.4).
 */
export class AdbStream {
  readonly input = new ByteQueue();
  private queue: { data: Buffer; done: () => void }[] = [];
  private inFlight = false;
  private closing = false;
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    private readonly link: AdbStreamLink,
    readonly localId: number,
    readonly remoteId: number,
    readonly destination: string,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves when the host has acknowledged every byte (or the stream closed). */
  write(data: Buffer | string): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    if (this.closed || this.closing || bytes.length === 0) return Promise.resolve();
    const parts: Promise<void>[] = [];
    for (let off = 0; off < bytes.length; off += this.link.maxPayload) {
      const chunk = bytes.subarray(off, off + this.link.maxPayload);
      parts.push(new Promise<void>((resolve) => this.queue.push({ data: chunk, done: resolve })));
    }
    this.pump();
    return Promise.all(parts).then(() => undefined);
  }

  /** Sends CLSE once every queued write went out. */
  close(): void {
    if (this.closed || this.closing) return;
    this.closing = true;
    this.pump();
  }

  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  /** Host WRTE: queue the bytes and acknowledge so the host may send the next one. */
  handleWrite(data: Buffer): void {
    if (this.closed) return;
    this.input.push(data);
    this.link.send({ command: A_OKAY, arg0: this.localId, arg1: this.remoteId, data: Buffer.alloc(0) });
  }

  handleOkay(): void {
    const head = this.queue.shift();
    this.inFlight = false;
    head?.done();
    this.pump();
  }

  /** Host CLSE, or the connection went away. */
  handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.input.end();
    for (const w of this.queue.splice(0)) w.done();
    this.link.forget(this.localId);
    for (const l of this.closeListeners.splice(0)) l();
  }

  private pump(): void {
    if (this.closed || this.inFlight) return;
    const head = this.queue[0];
    if (head) {
      this.inFlight = true;
      this.link.send({ command: A_WRTE, arg0: this.localId, arg1: this.remoteId, data: head.data });
      return;
    }
    if (this.closing) {
      this.link.send({ command: A_CLSE, arg0: this.localId, arg1: this.remoteId, data: Buffer.alloc(0) });
      this.handleClose();
    }
  }
}
