import { LinkClosedError } from "@hil/contracts";
import { LinkEmitter } from "./link-emitter.js";
import type { Disposable, ModemLines, SerialDevice, SerialLink } from "./serial-link.js";

export interface MemoryLinkOptions {
  /** Shown in messages; default "memory:device". */
  path?: string;
  baudRate?: number;
}

/**
 * A SerialLink wired straight to a SerialDevice in the same process: the fake for unit tests and
 * the fastest way to drive a virtual board. Device output is delivered on a microtask so a device
 * answering inside receive() cannot re-enter the host's write path.
 */
export class MemoryLink implements SerialLink {
  readonly path: string;
  readonly hasModemLines = true;
  private baud: number;
  private open_ = false;
  private readonly events = new LinkEmitter();
  private deviceSub: Disposable | undefined;
  private pending: Uint8Array[] = [];
  private flushQueued = false;

  constructor(
    private readonly device: SerialDevice,
    opts: MemoryLinkOptions = {},
  ) {
    this.path = opts.path ?? "memory:device";
    this.baud = opts.baudRate ?? 115200;
  }

  get isOpen(): boolean {
    return this.open_;
  }

  get baudRate(): number {
    return this.baud;
  }

  async open(): Promise<void> {
    if (this.open_) return;
    this.events.reset();
    this.open_ = true;
    this.device.setBaudRate(this.baud);
    this.deviceSub = this.device.onTransmit((data) => this.deliver(data));
  }

  async close(): Promise<void> {
    this.end(undefined);
  }

  /** Simulates pulling the cable: whatever uses the link ends with a LinkClosedError. */
  sever(message = `${this.path} was unplugged`): void {
    this.end(new LinkClosedError(message));
  }

  async write(data: Uint8Array): Promise<void> {
    if (!this.open_) throw new LinkClosedError(`cannot write to ${this.path}: the link is closed; open it first`);
    // Copy: the caller may reuse its buffer after the promise resolves.
    this.device.receive(data.slice());
  }

  async setBaudRate(baud: number): Promise<void> {
    this.baud = baud;
    if (this.open_) this.device.setBaudRate(baud);
  }

  async setSignals(lines: ModemLines): Promise<boolean> {
    if (!this.open_) throw new LinkClosedError(`cannot set DTR/RTS on ${this.path}: the link is closed`);
    this.device.setSignals({ ...lines });
    return true;
  }

  async purge(): Promise<void> {
    this.pending = [];
  }

  onData(listener: (chunk: Uint8Array) => void): Disposable {
    return this.events.onData(listener);
  }

  onClose(listener: (err?: LinkClosedError) => void): Disposable {
    return this.events.onClose(listener);
  }

  private deliver(data: Uint8Array): void {
    if (!this.open_ || data.length === 0) return;
    this.pending.push(data.slice());
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => {
      this.flushQueued = false;
      const chunks = this.pending;
      this.pending = [];
      for (const c of chunks) if (this.open_) this.events.emitData(c);
    });
  }

  private end(err: LinkClosedError | undefined): void {
    if (!this.open_) return;
    this.open_ = false;
    this.pending = [];
    this.deviceSub?.dispose();
    this.deviceSub = undefined;
    this.events.emitClose(err);
  }
}
