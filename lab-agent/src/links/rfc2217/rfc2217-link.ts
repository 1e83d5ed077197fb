import { connect, type Socket } from "node:net";
import { LabError, LinkClosedError } from "@hil/contracts";
import { LinkEmitter } from "../link-emitter.js";
import type { Disposable, ModemLines, SerialLink } from "../serial-link.js";
import {
  comPortU32,
  comPortU8,
  CONTROL,
  CPO,
  escapeData,
  OPT_BINARY,
  OPT_COM_PORT,
  OPT_SGA,
  SERVER_OFFSET,
  TelnetDecoder,
} from "./telnet-codec.js";
import { TelnetOptions } from "./telnet-options.js";

export interface Rfc2217LinkOptions {
  host: string;
  port: number;
  baudRate?: number;
  /** How long to wait for the TCP connect, the negotiation, and each command's answer. Default 3000 ms. */
  timeoutMs?: number;
}

interface Waiter {
  command: number;
  resolve: (value: Uint8Array) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const NAMES: Record<number, string> = {
  [CPO.SET_BAUDRATE]: "SET-BAUDRATE",
  [CPO.SET_DATASIZE]: "SET-DATASIZE",
  [CPO.SET_PARITY]: "SET-PARITY",
  [CPO.SET_STOPSIZE]: "SET-STOPSIZE",
  [CPO.SET_CONTROL]: "SET-CONTROL",
  [CPO.PURGE_DATA]: "PURGE-DATA",
};

/**
 * The client side of RFC 2217 (serial port over TELNET): a remote port such as
 * `rfc2217://lab-host:4000`, served by ser2net, pyserial's PortManager or our Rfc2217Server.
 * DTR/RTS changes wait for the server's answer, so a reset sequence keeps its order and timing.
 */
export class Rfc2217Link implements SerialLink {
  readonly path: string;
  readonly hasModemLines = true;
  private baud: number;
  private readonly timeoutMs: number;
  private socket: Socket | undefined;
  private closing = false;
  private readonly events = new LinkEmitter();
  private decoder = new TelnetDecoder();
  private options = this.freshOptions();
  private waiters: Waiter[] = [];
  private negotiated: (() => void) | undefined;

  constructor(private readonly opts: Rfc2217LinkOptions) {
    this.path = `rfc2217://${opts.host}:${opts.port}`;
    this.baud = opts.baudRate ?? 115200;
    this.timeoutMs = opts.timeoutMs ?? 3000;
  }

  get isOpen(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  get baudRate(): number {
    return this.baud;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    this.decoder = new TelnetDecoder();
    this.options = this.freshOptions();
    this.closing = false;
    const socket = await this.connectSocket();
    this.socket = socket;
    this.events.reset();
    socket.on("data", (chunk: Buffer) => this.onSocketData(chunk));
    socket.on("error", () => {
      // "close" follows; that is where the link reports the loss.
    });
    socket.on("close", () => this.onSocketClose());
    try {
      await this.negotiate(socket);
      await this.command(comPortU32(CPO.SET_BAUDRATE, this.baud), CPO.SET_BAUDRATE);
      await Promise.all([
        this.command(comPortU8(CPO.SET_DATASIZE, 8), CPO.SET_DATASIZE),
        this.command(comPortU8(CPO.SET_PARITY, 1), CPO.SET_PARITY),
        this.command(comPortU8(CPO.SET_STOPSIZE, 1), CPO.SET_STOPSIZE),
      ]);
    } catch (err) {
      this.closing = true;
      socket.destroy();
      throw err instanceof LabError && err.code !== "LINK_CLOSED"
        ? err
        : new LabError("LINK_OPEN_FAILED", `cannot open ${this.path}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    this.closing = true;
    await new Promise<void>((resolve) => {
      socket.once("close", () => resolve());
      socket.end();
      // A peer that never answers FIN must not keep us waiting.
      setTimeout(() => socket.destroy(), 500).unref();
    });
  }

  async write(data: Uint8Array): Promise<void> {
    const socket = this.requireOpen("write to");
    await this.send(socket, escapeData(data));
  }

  async setBaudRate(baud: number): Promise<void> {
    this.baud = baud;
    if (!this.isOpen) return;
    await this.command(comPortU32(CPO.SET_BAUDRATE, baud), CPO.SET_BAUDRATE);
  }

  async setSignals(lines: ModemLines): Promise<boolean> {
    this.requireOpen("set DTR/RTS on");
    // One round trip each, in order: reset sequences rely on the order DTR and RTS change in.
    if (lines.dtr !== undefined) await this.command(comPortU8(CPO.SET_CONTROL, lines.dtr ? CONTROL.DTR_ON : CONTROL.DTR_OFF), CPO.SET_CONTROL);
    if (lines.rts !== undefined) await this.command(comPortU8(CPO.SET_CONTROL, lines.rts ? CONTROL.RTS_ON : CONTROL.RTS_OFF), CPO.SET_CONTROL);
    return true;
  }

  async purge(): Promise<void> {
    this.requireOpen("purge");
    await this.command(comPortU8(CPO.PURGE_DATA, 1), CPO.PURGE_DATA);
  }

  onData(listener: (chunk: Uint8Array) => void): Disposable {
    return this.events.onData(listener);
  }

  onClose(listener: (err?: LinkClosedError) => void): Disposable {
    return this.events.onClose(listener);
  }

  private freshOptions(): TelnetOptions {
    const ours = new Set([OPT_BINARY, OPT_SGA, OPT_COM_PORT]);
    return new TelnetOptions(ours, new Set([OPT_BINARY, OPT_SGA]));
  }

  private connectSocket(): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.opts.host, port: this.opts.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new LabError("LINK_OPEN_FAILED", `cannot reach ${this.path}: no TCP connection within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(socket);
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(new LabError("LINK_OPEN_FAILED", `cannot reach ${this.path}: ${err.message}; is the RFC 2217 server running?`, { cause: err }));
      });
    });
  }

  private async negotiate(socket: Socket): Promise<void> {
    const o = this.options;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.negotiated = undefined;
        reject(new LabError("LINK_OPEN_FAILED", `${this.path} did not agree to COM-PORT-OPTION within ${this.timeoutMs} ms; it does not seem to be an RFC 2217 server`));
      }, this.timeoutMs);
      this.negotiated = () => {
        clearTimeout(timer);
        this.negotiated = undefined;
        resolve();
      };
    });
    const hello = [o.offer(OPT_BINARY), o.ask(OPT_BINARY), o.offer(OPT_SGA), o.ask(OPT_SGA), o.offer(OPT_COM_PORT)];
    await this.send(socket, Buffer.concat(hello));
    await ready;
  }

  private onSocketData(chunk: Buffer): void {
    for (const ev of this.decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) {
      if (ev.type === "data") this.events.emitData(ev.data);
      else if (ev.type === "negotiate") {
        const reply = this.options.handle(ev.verb, ev.option);
        if (reply && this.socket) this.socket.write(reply);
        if (this.negotiated && this.options.isLocalOn(OPT_COM_PORT)) this.negotiated();
      } else if (ev.option === OPT_COM_PORT && ev.payload.length > 0) {
        const cmd = ev.payload[0]! - SERVER_OFFSET;
        const idx = this.waiters.findIndex((w) => w.command === cmd);
        if (idx >= 0) {
          const [w] = this.waiters.splice(idx, 1);
          clearTimeout(w!.timer);
          w!.resolve(ev.payload.subarray(1));
        }
        // NOTIFY-LINESTATE / NOTIFY-MODEMSTATE and other unsolicited notes carry nothing we use.
      }
    }
  }

  private onSocketClose(): void {
    this.socket = undefined;
    const err = this.closing ? undefined : new LinkClosedError(`${this.path} closed the connection (server gone or board unplugged)`);
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      clearTimeout(w.timer);
      w.reject(err ?? new LinkClosedError(`${this.path} was closed`));
    }
    this.events.emitClose(err);
  }

  /** Sends one COM-PORT-OPTION command and waits for the server's answer (command + 100). */
  private command(bytes: Uint8Array, command: number): Promise<Uint8Array> {
    const socket = this.requireOpen(`send ${NAMES[command] ?? command} to`);
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new LabError("PROTOCOL", `${this.path} did not answer ${NAMES[command] ?? command} within ${this.timeoutMs} ms; check the RFC 2217 server`));
      }, this.timeoutMs);
      this.waiters.push({ command, resolve, reject, timer });
    });
    answer.catch(() => undefined);
    return this.send(socket, bytes).then(() => answer);
  }

  private send(socket: Socket, bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      socket.write(bytes, (err) => (err ? reject(new LinkClosedError(`cannot write to ${this.path}: ${err.message}`, { cause: err })) : resolve()));
    });
  }

  private requireOpen(what: string): Socket {
    const socket = this.socket;
    if (!socket || socket.destroyed) throw new LinkClosedError(`cannot ${what} ${this.path}: the link is closed`);
    return socket;
  }
}
