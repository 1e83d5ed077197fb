import type { FlashMemory } from "./flash-memory.js";

/**
 * The stub's READ_FLASH flow (§A.6): data packets of `packetSize`, never more than `maxUnacked`
 * ahead of the host's acks (each ack is the running byte total), then a 16-byte MD5 packet once
 * everything is acknowledged.
 */
export class ReadFlashStream {
  private sent = 0;
  private acked = 0;

  constructor(
    private readonly flash: FlashMemory,
    private readonly offset: number,
    private readonly length: number,
    private readonly packetSize: number,
    private readonly maxUnacked: number,
    private readonly send: (packet: Uint8Array) => void,
  ) {}

  /** Sends the first window; true when the read is already complete (length 0). */
  start(): boolean {
    this.pump();
    return this.finishIfDone();
  }

  /** Handles one ack; true when the read is complete. */
  ack(total: number): boolean {
    if (total > this.acked && total <= this.sent) this.acked = total;
    this.pump();
    return this.finishIfDone();
  }

  private pump(): void {
    while (this.sent < this.length && this.sent - this.acked < this.maxUnacked * this.packetSize) {
      const n = Math.min(this.packetSize, this.length - this.sent);
      this.send(this.flash.read(this.offset + this.sent, n));
      this.sent += n;
    }
  }

  private finishIfDone(): boolean {
    if (this.acked < this.length) return false;
    this.send(new Uint8Array(this.flash.md5(this.offset, this.length)));
    return true;
  }
}
