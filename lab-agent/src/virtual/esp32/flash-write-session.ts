import { createInflate, type Inflate } from "node:zlib";
import type { FlashMemory } from "./flash-memory.js";

export type WriteOutcome = "ok" | "out-of-range" | "bad-sequence" | "inflate-error" | "too-much-data";

/**
 * One FLASH_BEGIN…END or FLASH_DEFL_BEGIN…END run. The compressed variant feeds every block into a
 * single zlib stream: clients compress the whole image once and cut the stream into blocks, so a
 * block on its own is not inflatable.
 */
export class FlashWriteSession {
  private nextSeq = 0;
  /** Bytes written so far (uncompressed), relative to `offset`. */
  private written = 0;
  private inflate: Inflate | null = null;
  private inflateFailed = false;
  private overflow = false;

  constructor(
    private readonly flash: FlashMemory,
    readonly offset: number,
    /** Bytes the client announced (uncompressed; the ROM rounds this up to whole blocks). */
    readonly size: number,
    readonly blockSize: number,
    readonly compressed: boolean,
  ) {
    if (compressed) {
      this.inflate = createInflate();
      this.inflate.on("data", (chunk: Buffer) => this.store(chunk));
      this.inflate.on("error", () => {
        this.inflateFailed = true;
      });
    }
  }

  get bytesWritten(): number {
    return this.written;
  }

  async write(seq: number, data: Uint8Array): Promise<WriteOutcome> {
    if (seq !== this.nextSeq) return "bad-sequence";
    if (!this.compressed) {
      if (this.written + data.length > this.size) return "too-much-data";
      const at = this.offset + this.written;
      // Padding past the end of the chip is harmless as long as it is erased-state 0xFF.
      const inside = Math.max(0, Math.min(data.length, this.flash.size - at));
      if (data.subarray(inside).some((b) => b !== 0xff)) return "out-of-range";
      this.flash.program(at, data.subarray(0, inside));
      this.written += data.length;
      this.nextSeq++;
      return "ok";
    }
    const inflate = this.inflate;
    if (inflate === null || this.inflateFailed) return "inflate-error";
    await new Promise<void>((resolve) => {
      // A corrupt stream errors instead of calling back.
      const onError = (): void => resolve();
      inflate.once("error", onError);
      inflate.write(data, () => {
        inflate.off("error", onError);
        resolve();
      });
    });
    // The write callback fires once zlib has consumed the block, so its output is stored by now.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (this.inflateFailed) return "inflate-error";
    if (this.overflow) return "too-much-data";
    this.nextSeq++;
    return "ok";
  }

  /** Waits for the inflater to finish; false if the stream was corrupt or truncated mid-block. */
  async finish(): Promise<boolean> {
    const inflate = this.inflate;
    if (inflate === null) return true;
    this.inflate = null;
    if (this.inflateFailed) return false;
    return await new Promise<boolean>((resolve) => {
      inflate.once("end", () => resolve(!this.inflateFailed));
      inflate.once("error", () => resolve(false));
      inflate.end();
      inflate.resume();
    });
  }

  dispose(): void {
    this.inflate?.destroy();
    this.inflate = null;
  }

  private store(chunk: Buffer): void {
    if (this.written + chunk.length > this.size || !this.flash.contains(this.offset + this.written, chunk.length)) {
      this.overflow = true;
      return;
    }
    this.flash.program(this.offset + this.written, chunk);
    this.written += chunk.length;
  }
}
