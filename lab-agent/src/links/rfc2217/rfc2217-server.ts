import { createServer, Socket, type AddressInfo, type Server } from "node:net";
import type { Duplex } from "node:stream";
import type { Disposable, SerialDevice } from "../serial-link.js";
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
  subnegotiation,
  TelnetDecoder,
} from "./telnet-codec.js";
import { TelnetOptions } from "./telnet-options.js";

export interface Rfc2217ServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port; `listen()` reports it. */
  port: number;
  /** Text answered to a SIGNATURE query. */
  signature?: string;
  /** Called when a client connects or is replaced (for logs). */
  onClient?: (event: "connected" | "replaced" | "gone", remote: string) => void;
  /**
   * How DTR/RTS changes reach the board. "esp-auto-reset" (default): the ESP32 auto-reset circuit's
   * download entry is done board-side in one move (see `control`), because RFC 2217 cannot carry its
   * timing; "literal": every change is applied as it comes.
   */
  resetPolicy?: "esp-auto-reset" | "literal";
}

/**
 * Exposes a SerialDevice on TCP as an RFC 2217 port, so any RFC 2217 client (pyserial's
 * `rfc2217://`, esptool `--port rfc2217://h:p`, our Rfc2217Link) can reset and flash it.
 *
 * One client at a time: a new client REPLACES the current one, which is disconnected. A serial port
 * has one owner, and a client that died without closing its socket must not lock the board until
 * TCP keep-alive notices; the lab's leases decide who may connect, not this server.
 */
export class Rfc2217Server {
  private server: Server | undefined;
  private client: Duplex | undefined;
  private deviceSub: Disposable | undefined;
  /** What the client asked for (what ASK_DTR / ASK_RTS report). */
  private dtr = false;
  private rts = false;
  private remote = "";
  /** The board was put into download mode board-side; the client's remaining steps of that reset are already done. */
  private downloadEntered = false;
  private baud = 115200;
  private readonly host: string;

  constructor(
    private readonly device: SerialDevice,
    private readonly opts: Rfc2217ServerOptions,
  ) {
    this.host = opts.host ?? "127.0.0.1";
  }

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    return `rfc2217://${this.host}:${addr?.port ?? this.opts.port}`;
  }

  /**
   * Serves one RFC 2217 client over any byte stream (a WebSocket relayed through the lab), as if it had
   * connected over TCP: it replaces the current client. The board's bytes reach it once `attach()`
   * (or `listen()`) has subscribed to the device.
   */
  serve(stream: Duplex, remote: string): void {
    this.attach();
    this.accept(stream, remote);
  }

  /** Subscribes to the device's output without opening a TCP port (for `serve`). */
  attach(): void {
    this.deviceSub ??= this.device.onTransmit((data) => {
      const c = this.client;
      if (c && !c.destroyed) c.write(escapeData(data));
      // With no client attached the bytes are lost, as on a real UART with nothing listening.
    });
  }

  get hasClient(): boolean {
    return this.client !== undefined && !this.client.destroyed;
  }

  async listen(): Promise<{ port: number; url: string }> {
    if (this.server) {
      const port = (this.server.address() as AddressInfo).port;
      return { port, url: this.url };
    }
    const server = createServer((socket) => this.accept(socket, `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.opts.port, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    this.attach();
    return { port: (server.address() as AddressInfo).port, url: this.url };
  }

  /** Drops the connected client (what an unplugged cable looks like to it). */
  disconnectClients(): void {
    this.client?.destroy();
    this.client = undefined;
  }

  async close(): Promise<void> {
    this.disconnectClients();
    this.deviceSub?.dispose();
    this.deviceSub = undefined;
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Duplex, remote: string): void {
    if (this.client && !this.client.destroyed) {
      this.opts.onClient?.("replaced", this.remote);
      this.client.destroy();
    }
    this.client = socket;
    this.remote = remote;
    if (socket instanceof Socket) socket.setNoDelay(true);
    this.opts.onClient?.("connected", remote);
    const decoder = new TelnetDecoder();
    // The client performs COM-PORT-OPTION (it sends WILL, we answer DO); we perform BINARY and SGA.
    const options = new TelnetOptions(new Set([OPT_BINARY, OPT_SGA]), new Set([OPT_BINARY, OPT_SGA, OPT_COM_PORT]));
    socket.on("data", (chunk: Buffer) => {
      for (const ev of decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) {
        if (ev.type === "data") this.device.receive(ev.data.slice());
        else if (ev.type === "negotiate") {
          const reply = options.handle(ev.verb, ev.option);
          if (reply) socket.write(reply);
        } else if (ev.option === OPT_COM_PORT && ev.payload.length > 0) {
          const answer = this.comPort(ev.payload);
          if (answer) socket.write(answer);
        }
      }
    });
    socket.on("error", () => {
      // "close" follows.
    });
    socket.on("close", () => {
      if (this.client === socket) {
        this.client = undefined;
        this.opts.onClient?.("gone", remote);
      }
    });
    // Offer what we do up front; RFC 2217 clients that wait for the server to move first need it.
    socket.write(Buffer.concat([options.offer(OPT_BINARY), options.ask(OPT_BINARY), options.offer(OPT_SGA), options.ask(OPT_COM_PORT)]));
  }

  /** Applies one client command and builds the answer (command + 100, value now in force). */
  private comPort(payload: Uint8Array): Uint8Array | undefined {
    const cmd = payload[0]!;
    const value = payload.subarray(1);
    const reply = cmd + SERVER_OFFSET;
    switch (cmd) {
      case CPO.SIGNATURE:
        return value.length === 0 ? subnegotiation(OPT_COM_PORT, Buffer.concat([new Uint8Array([reply]), new TextEncoder().encode(this.opts.signature ?? "hil-lab rfc2217")])) : undefined;
      case CPO.SET_BAUDRATE: {
        if (value.length >= 4) {
          const baud = new DataView(value.buffer, value.byteOffset, 4).getUint32(0, false);
          if (baud > 0) {
            this.baud = baud;
            this.device.setBaudRate(baud);
          }
        }
        return comPortU32(reply, this.baud);
      }
      case CPO.SET_DATASIZE:
        return comPortU8(reply, value[0] || 8);
      case CPO.SET_PARITY:
      case CPO.SET_STOPSIZE:
        return comPortU8(reply, value[0] || 1);
      case CPO.SET_CONTROL:
        return comPortU8(reply, this.control(value[0] ?? 0));
      case CPO.PURGE_DATA:
        // Nothing is buffered here: bytes go to the device and to the socket as they arrive.
        return comPortU8(reply, value[0] ?? 0);
      default:
        // Masks, flow-control suspend/resume: acknowledge with the value unchanged.
        return subnegotiation(OPT_COM_PORT, Buffer.concat([new Uint8Array([reply]), value]));
    }
  }

  /**
   * SET-CONTROL. On the ESP32's auto-reset circuit (two transistors: EN low when RTS is asserted and DTR
   * not, IO0 low when DTR is asserted and RTS not), esptool's classic reset is DTR off, RTS on (hold EN
   * low), 100 ms, DTR on + RTS off (release EN with IO0 low), 50 ms, DTR off. A local port makes the
   * middle two changes microseconds apart; over RFC 2217 each one waits for the server's answer, which
   * pyserial polls for every 50 ms, so the board sees DTR and RTS both asserted (EN and IO0 both high)
   * for tens of milliseconds, boots normally, and the strap window is gone before IO0 goes low: "Wrong
   * boot mode detected (0x13)". So, with the esp-auto-reset policy, DTR asserted while the client
   * holds the chip in reset (RTS asserted) is taken as what it is, the start of a download-mode entry:
   * EN is released with IO0 low in one move here, and the client's RTS off that follows is already
   * done. Everything else is applied as it comes, so plain toggling (a terminal program opening the
   * port, `--after hard-reset`'s RTS pulse, idf.py monitor's reset) behaves as on a local port.
   */
  private control(v: number): number {
    const esp = (this.opts.resetPolicy ?? "esp-auto-reset") === "esp-auto-reset";
    switch (v) {
      case CONTROL.DTR_ON:
        this.dtr = true;
        if (esp && this.rts && !this.downloadEntered) {
          this.downloadEntered = true;
          this.device.setSignals({ dtr: true, rts: false });
        } else this.device.setSignals({ dtr: true });
        return v;
      case CONTROL.DTR_OFF:
        this.dtr = false;
        this.downloadEntered = false;
        this.device.setSignals({ dtr: false });
        return v;
      case CONTROL.RTS_ON:
        this.rts = true;
        this.downloadEntered = false;
        this.device.setSignals({ rts: true });
        return v;
      case CONTROL.RTS_OFF:
        this.rts = false;
        // after a board-side download entry RTS is off already: releasing it again changes nothing
        if (!this.downloadEntered) this.device.setSignals({ rts: false });
        return v;
      case CONTROL.ASK_DTR:
        return this.dtr ? CONTROL.DTR_ON : CONTROL.DTR_OFF;
      case CONTROL.ASK_RTS:
        return this.rts ? CONTROL.RTS_ON : CONTROL.RTS_OFF;
      case 0:
        return 1; // flow control: none
      case 4:
        return 6; // BREAK: off
      case 13:
        return 14; // inbound flow control: none
      default:
        return v;
    }
  }
}
