import type { Socket } from "node:net";
import type { FastbootAfter, FastbootDevice } from "./fastboot-device.js";

/** Response payloads longer than the host's 256-byte buffer would be read as two responses. */
const FB_RESPONSE_MAX = 256;

export interface FastbootConnectionHooks {
  /** After the final response of a `reboot*` / `boot` command went out. */
  onAfter(after: Exclude<FastbootAfter, null>): void;
  /** Download bytes received, for "disconnect after N bytes" faults. */
  onTraffic?(bytes: number): void;
}

/**
 * Fastboot over TCP (AOSP `fastboot/tcp.cpp`, PROTOCOLS.md §C.1): both sides send "FB01", then
 * every message is a u64 big-endian length and a payload. The download phase is a byte count that
 * may span several messages.
 */
export class FastbootConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private handshaken = false;
  private pendingData = 0;
  private dataChunks: Buffer[] = [];
  private ended = false;

  constructor(
    private readonly socket: Socket,
    private readonly device: FastbootDevice,
    private readonly hooks: FastbootConnectionHooks,
  ) {
    socket.setNoDelay(true);
    // The device may greet first; the host accepts "FB" + two digits.
    socket.write("FB01");
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("close", () => (this.ended = true));
    socket.on("error", () => socket.destroy());
  }

  drop(): void {
    this.ended = true;
    this.socket.destroy();
  }

  private send(response: string): void {
    if (this.ended) return;
    const payload = Buffer.from(response, "utf8").subarray(0, FB_RESPONSE_MAX);
    const head = Buffer.alloc(8);
    head.writeBigUInt64BE(BigInt(payload.length));
    this.socket.write(Buffer.concat([head, payload]));
  }

  private receive(chunk: Buffer): void {
    this.buffer = this.buffer.length > 0 ? Buffer.concat([this.buffer, chunk]) : chunk;
    if (!this.handshaken) {
      if (this.buffer.length < 4) return;
      if (this.buffer.toString("latin1", 0, 2) !== "FB") {
        this.drop();
        return;
      }
      this.handshaken = true;
      this.buffer = this.buffer.subarray(4);
    }
    while (!this.ended && this.buffer.length >= 8) {
      const length = Number(this.buffer.readBigUInt64BE(0));
      if (this.pendingData > 0) {
        // Data may arrive in messages of any size; take what is here, keep the rest framed.
        const available = this.buffer.length - 8;
        if (available <= 0) return;
        const take = Math.min(length, available);
        const part = this.buffer.subarray(8, 8 + take);
        this.consumeData(part);
        const remainingInMessage = length - take;
        if (remainingInMessage > 0) {
          const head = Buffer.alloc(8);
          head.writeBigUInt64BE(BigInt(remainingInMessage));
          this.buffer = Buffer.concat([head, this.buffer.subarray(8 + take)]);
          return;
        }
        this.buffer = this.buffer.subarray(8 + take);
        continue;
      }
      if (this.buffer.length < 8 + length) return;
      const command = this.buffer.toString("utf8", 8, 8 + length);
      this.buffer = this.buffer.subarray(8 + length);
      this.command(command);
    }
  }

  private consumeData(part: Buffer): void {
    this.dataChunks.push(Buffer.from(part));
    this.pendingData -= part.length;
    this.hooks.onTraffic?.(part.length);
    if (this.pendingData === 0) {
      this.device.acceptDownload(Buffer.concat(this.dataChunks));
      this.dataChunks = [];
      this.send("OKAY");
    }
  }

  private command(command: string): void {
    const reply = this.device.handle(command);
    for (const r of reply.responses) this.send(r);
    if (reply.expectData !== undefined) {
      this.pendingData = reply.expectData;
      this.dataChunks = [];
    }
    const after = reply.after;
    if (after) this.socket.end(() => this.hooks.onAfter(after));
  }
}
