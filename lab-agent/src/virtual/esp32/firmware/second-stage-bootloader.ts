import { readEsp32Image, type Esp32ImageInfo } from "../../../esp32-image/image-reader.js";
import { PARTITION_TABLE_MAX, PARTITION_TABLE_OFFSET, SINGLE_APP_TABLE, buildPartitionTable, partitionUsage, readPartitionTable, type PartitionEntry } from "../../../esp32-image/partition-table.js";
import { CHIP_IDS } from "../../../esp32-image/chips.js";
import { isMappedAddress } from "../../../esp32-image/layout.js";
import { norFlashAccess, type FlashAccess } from "./flash-access.js";
import { idfLine, type BootClock } from "./idf-log.js";
import { INVALID_INDEX, bootCandidates, bootStateOf, notBootableText, partitionAt, selectBootPartition, setActualOtaSeq } from "./ota-boot-select.js";

/** The IDF the simulated bootloader was built with (its banner line). */
export const BOOTLOADER_IDF_VERSION = "v5.2.1";
const BOOTLOADER_OFFSET = 0x1000;

export interface LoadedApp {
  offset: number;
  label: string;
  /** The partition it was loaded from and the whole table (an OTA app finds its next slot there). */
  partition?: PartitionEntry;
  table?: PartitionEntry[];
  info: Esp32ImageInfo;
  /** The image bytes (header through appended hash). */
  bytes: Uint8Array;
}

export type BootloaderResult = { ok: true; text: string; app: LoadedApp } | { ok: false; text: string };

/**
 * What the ROM and ESP-IDF's second-stage bootloader print after the ROM's `rst:` line, and which
 * app they hand over to. The bootloader itself is simulated: a real one at 0x1000 only contributes
 * its header (load lines, SPI mode); an erased 0x1000 is treated as a stock IDF bootloader.
 */
export function runSecondStageBootloader(flash: Uint8Array, clock: BootClock, storage?: FlashAccess): BootloaderResult {
  // otadata is written during boot (PENDING_VERIFY → ABORTED, NEW → PENDING_VERIFY, first seq).
  const access = storage ?? norFlashAccess(flash);
  let text = "";
  const log = (level: "E" | "W" | "I", tag: string, message: string, step = 5) => {
    text += idfLine(level, clock.step(step), tag, message);
  };

  const boot = readEsp32Image(flash.subarray(BOOTLOADER_OFFSET, PARTITION_TABLE_OFFSET));
  const bootOk = boot.ok && boot.chip === "esp32";
  text += "configsip: 0, SPIWP:0xee\r\n";
  text += "clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00\r\n";
  text += `mode:${bootOk ? boot.flashMode.toUpperCase() : "DIO"}, clock div:2\r\n`;
  if (bootOk) {
    for (const s of boot.segments) text += `load:0x${s.address.toString(16).padStart(8, "0")},len:${s.length}\r\n`;
    text += `entry 0x${boot.entry.toString(16).padStart(8, "0")}\r\n`;
  } else {
    text += "load:0x3fff0030,len:7104\r\nload:0x40078000,len:15576\r\nload:0x40080400,len:4\r\nload:0x40080404,len:3876\r\nentry 0x4008064c\r\n";
  }

  log("I", "boot", `ESP-IDF ${BOOTLOADER_IDF_VERSION} 2nd stage bootloader`, 4);
  log("I", "boot", "compile time Jan 10 2025 12:00:00", 0);
  log("I", "boot", "Multicore bootloader", 0);
  log("I", "boot", "chip revision: v3.0");
  log("I", "boot.esp32", `SPI Speed      : ${bootOk ? boot.flashFreq.replace("m", "MHz") : "40MHz"}`);
  log("I", "boot.esp32", `SPI Mode       : ${bootOk ? boot.flashMode.toUpperCase() : "DIO"}`);
  log("I", "boot.esp32", `SPI Flash Size : ${bootOk ? boot.flashSize : "4MB"}`);
  log("I", "boot", "Enabling RNG early entropy source...");

  const tableBytes = flash.subarray(PARTITION_TABLE_OFFSET, PARTITION_TABLE_OFFSET + PARTITION_TABLE_MAX);
  let table = readPartitionTable(tableBytes);
  if (table.entries.length === 0 && table.problems[0]?.startsWith("no partition table")) {
    // Nothing at 0x8000: behave as if the stock single-app table were there, with the factory
    // partition stretched to the end of flash so any app flashed at 0x10000 gets its chance.
    log("W", "boot", "no partition table at 0x8000 (erased); using the single factory app layout");
    const layout = SINGLE_APP_TABLE.map((e) => (e.type === "app" ? { ...e, size: Math.max(e.size, flash.length - e.offset) } : e));
    table = readPartitionTable(buildPartitionTable(layout));
  } else if (!table.ok) {
    const problem = table.problems[0] ?? "";
    log("E", "flash_parts", problem.startsWith("partition table MD5") ? "Incorrect MD5 checksum" : problem.replace(/ at table offset .*/, ""));
    log("E", "boot", "Failed to verify partition table");
    log("E", "boot", "load partition table error!");
    return { ok: false, text };
  }

  log("I", "boot", "Partition Table:");
  log("I", "boot", "## Label            Usage          Type ST Offset   Length");
  table.entries.forEach((p, i) => {
    const hx = (n: number, w: number) => n.toString(16).padStart(w, "0");
    log("I", "boot", `${String(i).padStart(2)} ${p.label.padEnd(16)} ${partitionUsage(p).padEnd(16)} ${hx(p.type, 2)} ${hx(p.subtype, 2)} ${hx(p.offset, 8)} ${hx(p.size, 8)}`);
  });
  log("I", "boot", "End of partition table");

  const state = bootStateOf(table.entries);
  const selection = selectBootPartition(access, state, log);
  if (selection.index === INVALID_INDEX) return { ok: false, text };
  for (const index of bootCandidates(state, selection.index)) {
    const part = partitionAt(state, index);
    if (!part) continue;
    const app = verifyApp(flash, part, log);
    if (app) {
      log("I", "boot", `Loaded app from partition at offset 0x${part.offset.toString(16)}`, 20);
      setActualOtaSeq(access, state, selection, index, log);
      log("I", "boot", "Disabling RNG early entropy source...", 0);
      return { ok: true, text, app: { ...app, partition: part, table: table.entries } };
    }
    log("E", "boot", notBootableText(index));
  }
  log("E", "boot", "No bootable app partitions in the partition table");
  return { ok: false, text };
}

export type Log = (level: "E" | "W" | "I", tag: string, message: string, step?: number) => void;

/**
 * esp_image_format.c's checks in its order, with its own log texts; undefined when not bootable.
 * The app's esp_ota_end runs the same verification, so the OTA scenario uses it too.
 */
export function verifyApp(flash: Uint8Array, part: PartitionEntry, log: Log): LoadedApp | undefined {
  const at = part.offset;
  const hex = (n: number) => n.toString(16);
  if (at >= flash.length) {
    log("E", "esp_image", `bootloader_mmap(0x${hex(at)}, 0x18) failed`);
    return undefined;
  }
  // The bootloader reads segments straight from flash, past the partition's end if the header says
  // so; the partition size is only compared with the image length after the checksum.
  const slice = flash.subarray(at);
  const info = readEsp32Image(slice);
  const first = info.failures[0];
  if (first?.kind === "magic" || first?.kind === "too-short") {
    log("E", "esp_image", `image at 0x${hex(at)} has invalid magic byte (nothing flashed here?)`);
    return undefined;
  }
  if (info.chipId !== CHIP_IDS.esp32) {
    log("E", "boot_comm", `mismatch chip ID, expected ${CHIP_IDS.esp32}, found ${info.chipId}`);
    return undefined;
  }
  if (first?.kind === "segment-count") {
    log("E", "esp_image", `image at 0x${hex(at)} segment count ${first.count} exceeds max 16`);
    return undefined;
  }
  for (const s of info.segments) {
    const kind = isMappedAddress(s.address) ? "map" : s.address >= 0x10000000 ? "load" : "";
    const size = `${hex(s.length).padStart(5, "0")}h (${String(s.length).padStart(6)})`;
    log("I", "esp_image", `segment ${s.index}: paddr=${hex(at + s.fileOffset).padStart(8, "0")} vaddr=${hex(s.address).padStart(8, "0")} size=${size} ${kind}`, 8);
  }
  const fits = () => {
    if (info.imageLength <= part.size) return true;
    log("E", "esp_image", `Image length ${info.imageLength} doesn't fit in partition length ${part.size}`);
    return false;
  };
  for (const f of info.failures) {
    switch (f.kind) {
      case "segment-length":
        log("E", "esp_image", `invalid segment length 0x${hex(f.length)}`);
        return undefined;
      case "segment-truncated":
      case "checksum-missing":
      case "hash-missing":
        log("E", "esp_image", `bootloader_mmap(0x${hex(at + ("fileOffset" in f ? f.fileOffset : info.imageLength))}, 0x${hex(flash.length - at)}) failed`);
        return undefined;
      case "segment-map":
        log("E", "esp_image", `Segment ${f.index} load address 0x${hex(f.address).padStart(8, "0")}, doesn't match data 0x${hex(at + f.dataOffset).padStart(8, "0")}`);
        return undefined;
      case "checksum":
        log("E", "esp_image", `Checksum failed. Calculated 0x${hex(f.calculated)} read 0x${hex(f.stored)}`);
        return undefined;
      case "hash":
        if (fits()) log("E", "esp_image", "Image hash failed - image is corrupt");
        return undefined;
      default:
        break;
    }
  }
  if (!fits()) return undefined;
  return { offset: at, label: part.label, info, bytes: slice.subarray(0, info.imageLength) };
}
