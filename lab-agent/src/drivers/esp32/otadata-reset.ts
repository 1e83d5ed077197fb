import type { ESPLoader } from "esptool-js";
import { PARTITION_TABLE_MAX, readPartitionTable, type PartitionEntry } from "../../esp32-image/partition-table.js";
import { resolveKind, type FlashImage, type FlashTargetFacts } from "./image-checks.js";

/**
 * What a flash does to otadata. "reset": when an app goes to an app partition of a table with an otadata
 * partition, blank otadata too, so the bootloader boots ota_0 (or factory) and not whatever an earlier OTA
 * update left selected — what `idf.py flash` does by writing `ota_data_initial.bin`. "keep": leave it.
 */
export type OtadataMode = "reset" | "keep";

export interface OtadataOutcome {
  /**
   * reset: otadata was blanked; blank: it already was (nothing written); kept: `keep` asked for;
   * erased: the whole flash was erased; in-images: an image given already covers it; none: nothing to do.
   */
  action: "reset" | "blank" | "kept" | "erased" | "in-images" | "none";
  /** One line for logs and step details, e.g. "reset at 0xd000 (0x2000 bytes)". */
  summary: string;
  offset?: number;
  size?: number;
}

/** The otadata blank to add to a flash, or why there is none. */
export type OtadataPlan = { image: FlashImage; partition: PartitionEntry } | { outcome: OtadataOutcome };

const READ_FLASH_SLOW = 0x0e;
const SLOW_BLOCK = 64;
const ENTRY_SIZE = 32;
const hex = (n: number) => `0x${n.toString(16)}`;

/** The partition table the images write at `tableOffset` (on its own or inside a merged image), if any. */
export function tableInImages(images: readonly FlashImage[], tableOffset: number): Uint8Array | undefined {
  for (const img of images) {
    if (img.offset <= tableOffset && img.offset + img.data.length > tableOffset) {
      return img.data.subarray(tableOffset - img.offset, tableOffset - img.offset + PARTITION_TABLE_MAX);
    }
  }
  return undefined;
}

/** Whether any image can be an app (an ESP image or a merged one); only then is the table worth reading. */
export function mayHoldApp(images: readonly FlashImage[], facts: FlashTargetFacts): boolean {
  return images.some((img) => img.offset !== facts.bootloaderOffset && resolveKind(img, facts) !== "raw");
}

/**
 * Given the table the board will boot with: the 0xFF image over otadata when an image starts an app
 * partition (or reaches over its start, as a merged image does) and no image already covers otadata.
 */
export function planOtadataReset(images: readonly FlashImage[], table: Uint8Array, from: string, flashSize = Number.MAX_SAFE_INTEGER): OtadataPlan {
  const entries = readPartitionTable(table).entries;
  const otadata = entries.find((e) => e.type === 0x01 && e.subtype === 0x00);
  if (!otadata) return { outcome: { action: "none", summary: `none: the partition table (${from}) has no otadata partition` } };
  const where = { offset: otadata.offset, size: otadata.size };
  // A damaged table read back from a board must not send a write somewhere odd; the bootloader would refuse it anyway.
  if (otadata.size === 0 || otadata.offset % 0x1000 !== 0 || otadata.size % 0x1000 !== 0 || otadata.offset + otadata.size > flashSize) {
    return { outcome: { action: "none", summary: `none: the otadata partition in the partition table (${from}) is not a whole number of sectors inside the flash (${hex(otadata.offset)}, ${hex(otadata.size)} bytes)`, ...where } };
  }
  const spans = (img: FlashImage, at: number) => img.offset <= at && img.offset + img.data.length > at;
  const apps = entries.filter((e) => e.type === 0x00);
  if (!images.some((img) => apps.some((app) => spans(img, app.offset)))) {
    return { outcome: { action: "none", summary: "none: no image starts an app partition", ...where } };
  }
  const covering = images.find((img) => img.offset < otadata.offset + otadata.size && img.offset + img.data.length > otadata.offset);
  if (covering) {
    return { outcome: { action: "in-images", summary: `written by ${covering.name ?? "an image"} at ${hex(otadata.offset)}`, ...where } };
  }
  const data = new Uint8Array(otadata.size).fill(0xff);
  return { image: { data, offset: otadata.offset, name: "otadata (reset)", kind: "raw" }, partition: otadata };
}

/**
 * Reads the board's partition table through the ROM loader's READ_FLASH_SLOW (64 bytes per command, no
 * stub upload), stopping after the last entry; a ROM without it (chips after the ESP32) or a running stub
 * gets the stub's READ_FLASH of the whole table instead.
 */
export async function readBoardTable(loader: ESPLoader, race: <T>(p: Promise<T>) => Promise<T>, tableOffset: number, log: (msg: string) => void): Promise<Uint8Array> {
  if (!loader.IS_STUB) {
    try {
      return await readTableSlow(loader, race, tableOffset);
    } catch (err) {
      log(`READ_FLASH_SLOW of the partition table failed (${(err as Error).message}); reading it through the stub`);
    }
    await race(loader.runStub());
  }
  return race(loader.readFlash(tableOffset, PARTITION_TABLE_MAX));
}

async function readTableSlow(loader: ESPLoader, race: <T>(p: Promise<T>) => Promise<T>, tableOffset: number): Promise<Uint8Array> {
  const out = new Uint8Array(PARTITION_TABLE_MAX).fill(0xff);
  for (let at = 0; at < PARTITION_TABLE_MAX; at += SLOW_BLOCK) {
    const args = new Uint8Array(8);
    const view = new DataView(args.buffer);
    view.setUint32(0, tableOffset + at, true);
    view.setUint32(4, SLOW_BLOCK, true);
    const block = await race(loader.checkCommand("read flash block", READ_FLASH_SLOW, args, 0, SLOW_BLOCK));
    if (!(block instanceof Uint8Array) || block.length < SLOW_BLOCK) throw new Error(`short READ_FLASH_SLOW answer at ${hex(tableOffset + at)}`);
    out.set(block.subarray(0, SLOW_BLOCK), at);
    // An entry that is neither a partition (0xAA50) nor the MD5 line (0xEBEB) ends the table.
    for (let e = at; e < at + SLOW_BLOCK; e += ENTRY_SIZE) {
      const m = ((out[e] ?? 0xff) << 8) | (out[e + 1] ?? 0xff);
      if (m !== 0xaa50 && m !== 0xebeb) return out;
    }
  }
  return out;
}
