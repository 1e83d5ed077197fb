import { existsSync } from "node:fs";
import { LabError, LinkClosedError } from "@hil/contracts";
import { SerialPort } from "serialport";
import { LinkEmitter } from "./link-emitter.js";
import type { Disposable, ModemLines, SerialLink } from "./serial-link.js";

export interface SerialportLinkOptions {
  path: string;
  baudRate?: number;
}

/** The errno texts a port gives when it simply has no modem-control lines (a PTY: ENOTTY). */
const NO_MODEM_LINES = /Inappropriate ioctl|ENOTTY|EINVAL|Invalid argument|not supported/i;

/**
 * A SerialLink over node `serialport` 13: USB-UART bridges, on-board USB-serial, and PTYs.
 * A PTY has no DTR/RTS; the first failed ioctl is remembered and later setSignals resolve false.
 */
export class SerialportLink implements SerialLink {
  readonly path: string;
  private modemLines = true;
  private baud: number;
  private port: SerialPort | undefined;
  private closing = false;
  private presence: NodeJS.Timeout | undefined;
  private readonly events = new LinkEmitter();

  constructor(opts: SerialportLinkOptions) {
    this.path = opts.path;
    this.baud = opts.baudRate ?? 115200;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  get hasModemLines(): boolean {
    return this.modemLines;
  }

  get baudRate(): number {
    return this.baud;
  }

  async open(): Promise<void> {
    if (this.port?.isOpen) return;
    // hupcl:false keeps DTR from being dropped on close, which would reset many dev boards.
    const port = new SerialPort({ path: this.path, baudRate: this.baud, autoOpen: false, hupcl: false });
    await new Promise<void>((resolve, reject) =>
      port.open((err) =>
        err ? reject(new LabError("LINK_OPEN_FAILED", `cannot open ${this.path}: ${err.message}; check the path and that no other program holds the port`, { cause: err })) : resolve(),
      ),
    );
    this.port = port;
    this.closing = false;
    this.events.reset();
    port.on("data", (chunk: Buffer) => this.events.emitData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    port.on("error", () => {
      // Errors on an open port are followed by "close" (with `disconnected`) when the device is gone.
    });
    port.on("close", (err?: Error & { disconnected?: boolean }) => {
      clearInterval(this.presence);
      this.port = undefined;
      if (this.closing) this.events.emitClose();
      else this.events.emitClose(new LinkClosedError(`${this.path} closed unexpectedly (board unplugged?)${err ? `: ${err.message}` : ""}`, { cause: err }));
    });
    // The device node goes when the board is unplugged (a USB-UART's /dev/ttyUSB*, a PTY's link). The
    // read poller does not always report it: on a PTY whose master closed it can spin on EIO instead.
    this.presence = setInterval(() => {
      if (existsSync(this.path) || !port.isOpen) return;
      clearInterval(this.presence);
      port.close(() => {});
    }, 250);
    this.presence.unref();
    await this.probeModemLines(port);
  }

  async close(): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return;
    this.closing = true;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  async write(data: Uint8Array): Promise<void> {
    const port = this.requireOpen("write to");
    await new Promise<void>((resolve, reject) => {
      port.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength), (err) => {
        if (err) reject(this.linkError("write", err));
      });
      port.drain((err) => (err ? reject(this.linkError("write", err)) : resolve()));
    });
  }

  async setBaudRate(baud: number): Promise<void> {
    this.baud = baud;
    const port = this.port;
    if (!port?.isOpen) return;
    await new Promise<void>((resolve, reject) => port.update({ baudRate: baud }, (err) => (err ? reject(this.linkError("set the baud rate of", err)) : resolve())));
  }

  async setSignals(lines: ModemLines): Promise<boolean> {
    const port = this.requireOpen("set DTR/RTS on");
    if (!this.modemLines) return false;
    const flags: { dtr?: boolean; rts?: boolean } = {};
    if (lines.dtr !== undefined) flags.dtr = lines.dtr;
    if (lines.rts !== undefined) flags.rts = lines.rts;
    try {
      await new Promise<void>((resolve, reject) => port.set(flags, (err) => (err ? reject(err) : resolve())));
      return true;
    } catch (err) {
      if (NO_MODEM_LINES.test((err as Error).message)) {
        this.modemLines = false;
        return false;
      }
      throw this.linkError("set DTR/RTS on", err as Error);
    }
  }

  async purge(): Promise<void> {
    const port = this.requireOpen("purge");
    await new Promise<void>((resolve, reject) => port.flush((err) => (err ? reject(this.linkError("purge", err)) : resolve())));
  }

  onData(listener: (chunk: Uint8Array) => void): Disposable {
    return this.events.onData(listener);
  }

  onClose(listener: (err?: LinkClosedError) => void): Disposable {
    return this.events.onClose(listener);
  }

  /** Reading the lines has no side effect, so it tells us up front whether DTR/RTS exist. */
  private async probeModemLines(port: SerialPort): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => port.get((err) => (err ? reject(err) : resolve())));
      this.modemLines = true;
    } catch (err) {
      this.modemLines = !NO_MODEM_LINES.test((err as Error).message);
    }
  }

  private requireOpen(what: string): SerialPort {
    const port = this.port;
    if (!port?.isOpen) throw new LinkClosedError(`cannot ${what} ${this.path}: the link is closed`);
    return port;
  }

  private linkError(what: string, err: Error): LabError {
    if (!this.port?.isOpen) return new LinkClosedError(`cannot ${what} ${this.path}: the link closed (${err.message})`, { cause: err });
    return new LabError("LINK_CLOSED", `cannot ${what} ${this.path}: ${err.message}`, { cause: err });
  }
}
