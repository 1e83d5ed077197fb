import { createHash } from "node:crypto";

export const SECTOR_SIZE = 0x1000;

/**
 * SPI NOR flash: erased bytes read 0xFF, programming can only clear bits, erase works on 4 KiB
 * sectors. Keeping NOR semantics means a loader bug that skips an erase shows up as corrupt data,
 * as it would on a board.
 */
export class FlashMemory {
  readonly bytes: Uint8Array;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < SECTOR_SIZE || (size & (size - 1)) !== 0) {
      throw new RangeError(`flash size ${size} must be a power of two of at least 4 KiB (e.g. 4MB)`);
    }
    this.bytes = new Uint8Array(size).fill(0xff);
  }

  contains(offset: number, length: number): boolean {
    return offset >= 0 && length >= 0 && offset + length <= this.size;
  }

  /** Erases every sector the range touches. Returns false when the range is outside the chip. */
  eraseRange(offset: number, length: number): boolean {
    if (!this.contains(offset, length)) return false;
    if (length === 0) return true;
    const start = Math.floor(offset / SECTOR_SIZE) * SECTOR_SIZE;
    const end = Math.min(this.size, Math.ceil((offset + length) / SECTOR_SIZE) * SECTOR_SIZE);
    this.bytes.fill(0xff, start, end);
    return true;
  }

  eraseAll(): void {
    this.bytes.fill(0xff);
  }

  /** NOR program: new = old AND data. Returns false when the range is outside the chip. */
  program(offset: number, data: Uint8Array): boolean {
    if (!this.contains(offset, data.length)) return false;
    const target = this.bytes;
    for (let i = 0; i < data.length; i++) target[offset + i] = (target[offset + i] ?? 0xff) & (data[i] ?? 0xff);
    return true;
  }

  read(offset: number, length: number): Uint8Array {
    return this.bytes.slice(offset, offset + length);
  }

  md5(offset: number, length: number): Buffer {
    return createHash("md5").update(this.bytes.subarray(offset, offset + length)).digest();
  }

  /** Replaces the whole content, e.g. to preload an image; shorter input leaves the rest erased. */
  load(offset: number, data: Uint8Array): void {
    if (!this.contains(offset, data.length)) throw new RangeError(`image of ${data.length} bytes at 0x${offset.toString(16)} does not fit in ${this.size} bytes of flash`);
    this.bytes.set(data, offset);
  }
}
