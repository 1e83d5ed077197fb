/**
 * What the firmware may do to the board's flash: read it (the live array) and, like ESP-IDF's
 * bootloader_flash / esp_partition code, erase 4 KiB sectors and program bytes (NOR: bits only clear).
 * The board passes its FlashMemory, which satisfies this.
 */
export interface FlashAccess {
  readonly bytes: Uint8Array;
  eraseRange(offset: number, length: number): boolean;
  program(offset: number, data: Uint8Array): boolean;
}

const SECTOR = 0x1000;

/** NOR semantics over a bare array, for callers (tests, tools) that hold only the bytes. */
export function norFlashAccess(bytes: Uint8Array): FlashAccess {
  const inside = (offset: number, length: number) => offset >= 0 && length >= 0 && offset + length <= bytes.length;
  return {
    bytes,
    eraseRange(offset, length) {
      if (!inside(offset, length)) return false;
      if (length === 0) return true;
      const start = Math.floor(offset / SECTOR) * SECTOR;
      const end = Math.min(bytes.length, Math.ceil((offset + length) / SECTOR) * SECTOR);
      bytes.fill(0xff, start, end);
      return true;
    },
    program(offset, data) {
      if (!inside(offset, data.length)) return false;
      for (let i = 0; i < data.length; i++) bytes[offset + i] = (bytes[offset + i] ?? 0xff) & (data[i] ?? 0xff);
      return true;
    },
  };
}
