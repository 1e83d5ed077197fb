import { CHIP_FACTS, chipDisplayName, type ChipName } from "./chips.js";
import { readEsp32Image } from "./image-reader.js";
import { PARTITION_TABLE_OFFSET } from "./partition-table.js";

export const SECTOR_SIZE = 0x1000;
export const DEFAULT_APP_OFFSET = 0x10000;
/** Where the ROM looks for the second-stage bootloader: 0x1000 on ESP32 and ESP32-S2, 0x0 on later chips. */
export function bootloaderOffset(chip: ChipName): number {
  return chip === "esp32" || chip === "esp32s2" ? 0x1000 : 0x0;
}

export interface FlashLayoutOptions {
  bootloader?: Uint8Array;
  partitionTable?: Uint8Array;
  app: Uint8Array;
  appOffset?: number;
  /** Total flash size; 4 MiB (the virtual board's) by default. */
  flashSize?: number;
  chip?: ChipName;
}

/** A whole flash image (erased bytes = 0xFF) with the pieces at their usual offsets, for tests. */
export function buildFlashLayout(opts: FlashLayoutOptions): Uint8Array {
  const flash = new Uint8Array(opts.flashSize ?? 4 * 1024 * 1024).fill(0xff);
  const place = (data: Uint8Array, offset: number, what: string) => {
    if (offset + data.length > flash.length) throw new RangeError(`${what} (${data.length} bytes at 0x${offset.toString(16)}) does not fit in ${flash.length} bytes of flash`);
    flash.set(data, offset);
  };
  if (opts.bootloader) place(opts.bootloader, bootloaderOffset(opts.chip ?? "esp32"), "bootloader");
  if (opts.partitionTable) place(opts.partitionTable, PARTITION_TABLE_OFFSET, "partition table");
  place(opts.app, opts.appOffset ?? DEFAULT_APP_OFFSET, "app");
  return flash;
}

export interface FlashTarget {
  /** The board's chip. */
  chip: ChipName;
  /** The board's flash size in bytes. */
  flashSize: number;
  offset: number;
  /** "app": an app image (checked like the bootloader will); "raw": any bytes (partition table, data). */
  kind?: "app" | "raw";
}

/**
 * Problems that must stop a flash before any byte is written; empty when the flash may go ahead.
 * Offsets must be 4 KiB aligned: flash erases whole 4 KiB sectors, so an unaligned write would wipe
 * the bytes before it in the same sector (esptool pads lengths, not offsets).
 */
export function validateImageForFlash(bytes: Uint8Array, target: FlashTarget): string[] {
  const problems: string[] = [];
  const at = `0x${target.offset.toString(16)}`;
  if (bytes.length === 0) problems.push("image is empty: nothing to flash");
  if (target.offset < 0 || !Number.isInteger(target.offset)) problems.push(`offset ${target.offset} is not a flash address`);
  if (target.offset % SECTOR_SIZE !== 0) {
    problems.push(`offset ${at} is not a multiple of 4 KiB (0x1000): flash erases whole 4 KiB sectors, so writing there would wipe the bytes before it; use a 0x1000-aligned offset`);
  }
  if (target.offset + bytes.length > target.flashSize) {
    problems.push(
      `image does not fit: ${bytes.length} bytes at ${at} end at 0x${(target.offset + bytes.length).toString(16)}, past the board's ${target.flashSize / (1024 * 1024)} MiB flash (0x${target.flashSize.toString(16)})`,
    );
  }
  if ((target.kind ?? "app") === "raw" || bytes.length === 0) return problems;

  const info = readEsp32Image(bytes);
  if (info.failures.some((f) => f.kind === "magic" || f.kind === "too-short")) {
    problems.push(`not an ESP32 app image (${info.problems[0] ?? "bad header"}); to write raw bytes here, flash it as kind "raw"`);
    return problems;
  }
  const boardChip = CHIP_FACTS[target.chip].display;
  if (info.chipId !== -1 && info.chip !== target.chip) {
    const imageChip = info.chip === "unknown" ? "an unknown chip" : chipDisplayName(info.chip);
    problems.push(`image is for ${imageChip} (chip id ${info.chipId}), board is ${boardChip}: rebuild for ${boardChip} (idf.py set-target ${target.chip})`);
  }
  for (const f of info.failures) if (f.kind !== "unknown-chip") problems.push(f.message);
  if (target.offset >= DEFAULT_APP_OFFSET && target.offset % 0x10000 !== 0) {
    problems.push(`app images must start on a 64 KiB boundary (the flash MMU maps 64 KiB pages); ${at} is not one`);
  }
  return problems;
}
