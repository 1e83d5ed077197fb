import { LinkClosedError } from "@hil/contracts";
import type { Disposable, SerialLink } from "../../links/serial-link.js";

export interface WebSerialInfo {
  usbVendorId?: number;
  usbProductId?: number;
}

export interface WebSerialOpenOptions {
  baudRate?: number;
}

export interface WebSerialSignals {
  dataTerminalReady?: boolean;
  requestToSend?: boolean;
  break?: boolean;
}

/**
 * Gives any SerialLink the shape of a Web Serial `SerialPort`, which is what esptool-js's
 * `Transport` drives: `new Transport(adapter as unknown as SerialPort, false)`.
 *
 * The link's lifetime belongs to the caller: `close()` only detaches the streams (esptool-js closes
 * and reopens the port when it retries chip detection) and `open()` opens the link only if needed.
 * `setBaudRate` is provided so esptool-js changes speed in place instead of closing the port.
 */
export class WebSerialPortAdapter {
  readable: ReadableStream<Uint8Array> | null = null;
  writable: WritableStream<Uint8Array> | null = null;
  private subs: Disposable[] = [];

  constructor(
    private readonly link: SerialLink,
    private readonly info: WebSerialInfo = {},
  ) {}

  getInfo(): WebSerialInfo {
    return { ...this.info };
  }

  async open(options: WebSerialOpenOptions = {}): Promise<void> {
    if (!this.link.isOpen) await this.link.open();
    if (options.baudRate !== undefined && options.baudRate !== this.link.baudRate) await this.link.setBaudRate(options.baudRate);
    this.detach();
    const link = this.link;
    const subs: Disposable[] = [];
    const readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        subs.push(
          link.onData((chunk) => {
            try {
              controller.enqueue(chunk);
            } catch {
              // The stream was cancelled; the data has nowhere to go.
            }
          }),
          link.onClose((err) => {
            try {
              if (err) controller.error(err);
              else controller.close();
            } catch {
              // already closed or cancelled
            }
            // A write that failed on the dead link leaves esptool-js's writer locked for good, and
            // Transport.disconnect() would wait for that lock forever. A closed port has no streams.
            if (this.readable === readable) this.readable = null;
            if (this.writable === writable) this.writable = null;
          }),
        );
      },
      cancel: () => {
        for (const s of subs) s.dispose();
      },
    });
    const writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        if (!link.isOpen) throw new LinkClosedError(`cannot write to ${link.path}: the link is closed`);
        await link.write(chunk);
      },
    });
    this.readable = readable;
    this.writable = writable;
    this.subs = subs;
  }

  async close(): Promise<void> {
    this.detach();
  }

  /**
   * Forwards DTR/RTS. On a link without modem lines (PTY) the request is dropped silently: the
   * caller must reset the board some other way (e.g. a virtual board's control API).
   */
  async setSignals(signals: WebSerialSignals): Promise<void> {
    const lines: { dtr?: boolean; rts?: boolean } = {};
    if (signals.dataTerminalReady !== undefined) lines.dtr = signals.dataTerminalReady;
    if (signals.requestToSend !== undefined) lines.rts = signals.requestToSend;
    if (lines.dtr === undefined && lines.rts === undefined) return;
    if (!this.link.hasModemLines) return;
    await this.link.setSignals(lines);
  }

  async setBaudRate(baudRate: number): Promise<void> {
    await this.link.setBaudRate(baudRate);
  }

  private detach(): void {
    for (const s of this.subs) s.dispose();
    this.subs = [];
    this.readable = null;
    this.writable = null;
  }
}
