import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import {
  A_AUTH,
  A_CLSE,
  A_CNXN,
  A_OKAY,
  A_OPEN,
  A_VERSION,
  A_WRTE,
  AUTH_SIGNATURE,
  AUTH_TOKEN,
  AdbMessageDecoder,
  DEVICE_MAX_PAYLOAD,
  MAX_PAYLOAD_V1,
  encodeMessage,
  type AdbMessage,
} from "./adb-message.js";
import { AdbStream, type AdbStreamLink } from "./adb-stream.js";

/** How the device greets a host: answer CNXN, ask for keys it never accepts, or stay silent. */
export type AdbGreeting = "device" | "unauthorized" | "offline";

export interface AdbConnectionHooks {
  /** The CNXN banner, `device::ro.product.name=…;…;features=…` (≤ 4096 bytes). */
  banner(): string;
  greeting(): AdbGreeting;
  /** The service behind `destination`, or null to reject the OPEN (the client sees "closed"). */
  resolveService(destination: string): ((stream: AdbStream) => void) | null;
  /** Payload bytes moved over WRTE in either direction, for "disconnect after N bytes" faults. */
  onTraffic?(bytes: number): void;
}

/** The device end of one TCP connection from an adb server. */
export class AdbConnection implements AdbStreamLink {
  private readonly decoder = new AdbMessageDecoder();
  private readonly streams = new Map<number, AdbStream>();
  private nextLocalId = 1;
  private online = false;
  private negotiatedMax = MAX_PAYLOAD_V1;
  private ended = false;

  constructor(
    private readonly socket: Socket,
    private readonly hooks: AdbConnectionHooks,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("close", () => this.teardown());
    socket.on("error", () => socket.destroy());
  }

  get maxPayload(): number {
    return this.negotiatedMax;
  }

  /** Drops the TCP connection the way an unplugged cable or a reboot does. */
  drop(): void {
    this.socket.destroy();
    this.teardown();
  }

  send(msg: AdbMessage): void {
    if (this.ended) return;
    if (msg.command === A_WRTE) this.hooks.onTraffic?.(msg.data.length);
    this.socket.write(encodeMessage(msg));
  }

  forget(localId: number): void {
    this.streams.delete(localId);
  }

  private receive(chunk: Buffer): void {
    let messages: AdbMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch {
      this.drop();
      return;
    }
    for (const m of messages) {
      if (this.ended) return;
      this.handle(m);
    }
  }

  private handle(m: AdbMessage): void {
    switch (m.command) {
      case A_CNXN:
        this.handleConnect(m);
        return;
      case A_AUTH:
        // Every signature is refused with a fresh token; the host then offers its public key
        // and lists the device as "unauthorized" (PROTOCOLS.md §B.3).
        if (m.arg0 === AUTH_SIGNATURE) this.sendAuthToken();
        return;
      case A_OPEN:
        if (this.online) this.handleOpen(m);
        return;
      case A_OKAY:
        this.streams.get(m.arg1)?.handleOkay();
        return;
      case A_WRTE: {
        const stream = this.streams.get(m.arg1);
        this.hooks.onTraffic?.(m.data.length);
        if (stream) stream.handleWrite(m.data);
        else this.send({ command: A_CLSE, arg0: 0, arg1: m.arg0, data: Buffer.alloc(0) });
        return;
      }
      case A_CLSE:
        this.streams.get(m.arg1)?.handleClose();
        return;
      default:
        return;
    }
  }

  private handleConnect(m: AdbMessage): void {
    const greeting = this.hooks.greeting();
    if (greeting === "offline") return;
    this.negotiatedMax = Math.min(m.arg1 || MAX_PAYLOAD_V1, DEVICE_MAX_PAYLOAD);
    this.decoder.setMaxPayload(Math.max(this.negotiatedMax, DEVICE_MAX_PAYLOAD));
    if (greeting === "unauthorized") {
      this.sendAuthToken();
      return;
    }
    this.online = true;
    const banner = Buffer.from(this.hooks.banner(), "utf8");
    this.send({ command: A_CNXN, arg0: Math.min(m.arg0, A_VERSION), arg1: DEVICE_MAX_PAYLOAD, data: banner });
  }

  private sendAuthToken(): void {
    this.send({ command: A_AUTH, arg0: AUTH_TOKEN, arg1: 0, data: randomBytes(20) });
  }

  private handleOpen(m: AdbMessage): void {
    const destination = m.data.toString("utf8").replace(/\0+$/, "");
    const service = this.hooks.resolveService(destination);
    if (!service) {
      this.send({ command: A_CLSE, arg0: 0, arg1: m.arg0, data: Buffer.alloc(0) });
      return;
    }
    const localId = this.nextLocalId++;
    const stream = new AdbStream(this, localId, m.arg0, destination);
    this.streams.set(localId, stream);
    this.send({ command: A_OKAY, arg0: localId, arg1: m.arg0, data: Buffer.alloc(0) });
    try {
      service(stream);
    } catch {
      // A service that cannot start closes its stream; the connection and other streams carry on.
      stream.close();
    }
  }

  private teardown(): void {
    if (this.ended) return;
    this.ended = true;
    for (const s of [...this.streams.values()]) s.handleClose();
    this.streams.clear();
  }
}
