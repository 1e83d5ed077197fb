// Which app partition ESP-IDF's second-stage bootloader starts (bootloader_utility.c,
// CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE on): otadata is read, every PENDING_VERIFY entry becomes
// ABORTED (the app booted last time never confirmed itself), the valid entry with the highest seq
// picks slot (seq - 1) % OTA slots and a NEW entry becomes PENDING_VERIFY. Then the slots are tried
// from that index down to factory, then upwards.
import { OTADATA_SECTOR, OTADATA_SIZE, OTA_STATES, activeOtadataIndex, encodeOtaSelectEntry, otaSlotForSeq, readOtadata, type DecodedOtaEntry } from "../../../esp32-image/otadata.js";
import type { PartitionEntry } from "../../../esp32-image/partition-table.js";
import type { FlashAccess } from "./flash-access.js";

export const FACTORY_INDEX = -1;
export const TEST_APP_INDEX = -2;
export const INVALID_INDEX = -99;

type Log = (level: "E" | "W" | "I", tag: string, message: string) => void;

/** bootloader_state_t: where the app partitions and otadata are. */
export interface BootState {
  factory: PartitionEntry | undefined;
  test: PartitionEntry | undefined;
  /** Indexed by OTA slot (subtype & 0x0F). */
  ota: (PartitionEntry | undefined)[];
  otaCount: number;
  otaInfo: PartitionEntry | undefined;
}

export function bootStateOf(entries: readonly PartitionEntry[]): BootState {
  const state: BootState = { factory: undefined, test: undefined, ota: [], otaCount: 0, otaInfo: undefined };
  for (const e of entries) {
    if (e.type === 0x00) {
      if (e.subtype === 0x00) state.factory = e;
      else if (e.subtype === 0x20) state.test = e;
      else if ((e.subtype & 0xf0) === 0x10) {
        state.ota[e.subtype & 0x0f] = e;
        state.otaCount++;
      }
    } else if (e.type === 0x01 && e.subtype === 0x00) {
      state.otaInfo = e;
    }
  }
  return state;
}

export function partitionAt(state: BootState, index: number): PartitionEntry | undefined {
  if (index === FACTORY_INDEX) return state.factory;
  if (index === TEST_APP_INDEX) return state.test;
  return index >= 0 && index < state.otaCount ? state.ota[index] : undefined;
}

export interface BootSelection {
  index: number;
  /** otadata as it is after the bootloader's own writes (undefined without an otadata partition). */
  otadata?: [DecodedOtaEntry, DecodedOtaEntry];
  /** Both entries erased/bad and no factory: once a slot boots, its seq is written (set_actual_ota_seq). */
  initialContents: boolean;
}

function writeEntry(flash: FlashAccess, at: number, e: DecodedOtaEntry, state: number, log: Log): void {
  // write_otadata: erase the entry's sector, then program the 32-byte entry.
  if (!flash.eraseRange(at, OTADATA_SECTOR) || !flash.program(at, encodeOtaSelectEntry({ seq: e.seq, state, crc: e.crc, label: e.label }))) {
    log("E", "boot", "Error in write_otadata operation. err = 0x103");
  }
}

/** bootloader_utility_get_selected_boot_partition. */
export function selectBootPartition(flash: FlashAccess, state: BootState, log: Log): BootSelection {
  const info = state.otaInfo;
  if (!info) return { index: FACTORY_INDEX, initialContents: false };
  if (info.size < OTADATA_SIZE) {
    log("E", "boot", `ota_info partition size ${info.size} is too small (minimum ${OTADATA_SIZE} bytes)`);
    return { index: INVALID_INDEX, initialContents: false };
  }
  if (info.offset + OTADATA_SIZE > flash.bytes.length) {
    log("E", "boot", `bootloader_mmap(0x${info.offset.toString(16)}, 0x${info.size.toString(16)}) failed`);
    return { index: INVALID_INDEX, initialContents: false };
  }
  const read = () => readOtadata(flash.bytes.subarray(info.offset, info.offset + OTADATA_SIZE));
  let otadata = read();
  for (const e of otadata) {
    if (e.state === OTA_STATES.PENDING_VERIFY) writeEntry(flash, info.offset + OTADATA_SECTOR * e.index, e, OTA_STATES.ABORTED, log);
  }
  otadata = read();
  const invalid = (e: DecodedOtaEntry) => e.seq === 0xffffffff || e.state === OTA_STATES.INVALID || e.state === OTA_STATES.ABORTED;
  if ((invalid(otadata[0]) && invalid(otadata[1])) || state.otaCount === 0) {
    if (state.factory) {
      log("I", "boot", "Defaulting to factory image");
      return { index: FACTORY_INDEX, otadata, initialContents: false };
    }
    log("I", "boot", "No factory image, trying OTA 0");
    const initial = otadata.every((e) => e.seq === 0xffffffff || !e.crcOk);
    return { index: 0, otadata, initialContents: initial };
  }
  const active = activeOtadataIndex(otadata);
  if (active === -1) {
    log("E", "boot", state.factory ? "ota data partition invalid, falling back to factory" : "ota data partition invalid and no factory, will try all partitions");
    return { index: FACTORY_INDEX, otadata, initialContents: false };
  }
  const entry = otadata[active];
  const index = otaSlotForSeq(entry.seq, state.otaCount);
  if (entry.state === OTA_STATES.NEW) {
    writeEntry(flash, info.offset + OTADATA_SECTOR * active, entry, OTA_STATES.PENDING_VERIFY, log);
    otadata = read();
  }
  return { index, otadata, initialContents: false };
}

/** The order bootloader_utility_load_boot_image tries partitions in: start down to factory, then up. */
export function bootCandidates(state: BootState, start: number): number[] {
  const order: number[] = [];
  for (let i = start; i >= FACTORY_INDEX; i--) if (partitionAt(state, i)) order.push(i);
  for (let i = start + 1; i < state.otaCount; i++) if (partitionAt(state, i)) order.push(i);
  return order;
}

/** set_actual_ota_seq: after booting slot `index` from erased otadata, record it as seq index+1, VALID. */
export function setActualOtaSeq(flash: FlashAccess, state: BootState, selection: BootSelection, index: number, log: Log): void {
  const info = state.otaInfo;
  if (!info || index <= FACTORY_INDEX || !selection.initialContents) return;
  const seq = index + 1;
  if (!flash.eraseRange(info.offset, OTADATA_SECTOR) || !flash.program(info.offset, encodeOtaSelectEntry({ seq, state: OTA_STATES.VALID }))) {
    log("E", "boot", "Error in write_otadata operation. err = 0x103");
    return;
  }
  log("I", "boot", `Set actual ota_seq=${seq} in otadata[0]`);
}

/** The "is not bootable" line for a partition index (log_invalid_app_partition). */
export function notBootableText(index: number): string {
  if (index === FACTORY_INDEX) return "Factory app partition is not bootable";
  if (index === TEST_APP_INDEX) return "Factory test app partition is not bootable";
  return `OTA app partition slot ${index} is not bootable`;
}
