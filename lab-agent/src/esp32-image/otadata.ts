// The `otadata` partition (type data, subtype ota) as ESP-IDF's bootloader and esp_ota_ops keep it:
// two 4 KiB sectors, each starting with one esp_ota_select_entry_t (32 bytes, little-endian):
//   uint32 ota_seq; uint8 seq_label[20]; uint32 ota_state; uint32 crc
// crc is esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4). The entry with the highest valid seq is
// active and selects OTA slot (seq - 1) % number of OTA app partitions. Rest of a sector is erased.

export const OTADATA_SIZE = 0x2000;
export const OTADATA_SECTOR = 0x1000;
export const OTA_SELECT_ENTRY_SIZE = 32;
const SEQ_LABEL_LENGTH = 20;
const UNSET = 0xffffffff;

/** esp_ota_img_states_t. */
export const OTA_STATES = {
  NEW: 0x0,
  PENDING_VERIFY: 0x1,
  VALID: 0x2,
  INVALID: 0x3,
  ABORTED: 0x4,
  UNDEFINED: 0xffffffff,
} as const;
export type OtaStateName = keyof typeof OTA_STATES;

export interface OtaSelectEntry {
  seq: number;
  state: number;
  crc: number;
  /** The 20 label bytes as stored (0xFF when nobody wrote them, which is what ESP-IDF leaves). */
  label: Uint8Array;
}

export interface DecodedOtaEntry extends OtaSelectEntry {
  /** Which sector (0 or 1) it came from. */
  index: 0 | 1;
  /** seq is not 0xFFFFFFFF, state is not INVALID/ABORTED and the CRC matches (bootloader_common_ota_select_valid). */
  valid: boolean;
  crcOk: boolean;
  stateName: OtaStateName | "unknown";
}

let table: Uint32Array | undefined;
function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * The ROM's crc32_le(crc, buf, len): the reflected CRC-32 polynomial with `~crc` going in and `~`
 * coming out, so crc32_le(0xFFFFFFFF, …) starts from a zero register (unlike zlib's crc32(0, …)).
 */
export function romCrc32Le(crc: number, bytes: Uint8Array): number {
  const t = crcTable();
  let c = ~crc >>> 0;
  for (const b of bytes) c = (t[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return ~c >>> 0;
}

/** bootloader_common_ota_select_crc: over the 4 bytes of ota_seq only. */
export function otaSelectCrc(seq: number): number {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, seq >>> 0, true);
  return romCrc32Le(UNSET, b);
}

export function otaStateName(state: number): OtaStateName | "unknown" {
  for (const [name, value] of Object.entries(OTA_STATES)) if (value === state) return name as OtaStateName;
  return "unknown";
}

/** 32 bytes of one entry; the CRC is computed from seq unless given (to write a damaged one in a test). */
export function encodeOtaSelectEntry(entry: { seq: number; state: number; crc?: number; label?: Uint8Array }): Uint8Array {
  const out = new Uint8Array(OTA_SELECT_ENTRY_SIZE).fill(0xff);
  const view = new DataView(out.buffer);
  view.setUint32(0, entry.seq >>> 0, true);
  if (entry.label) out.set(entry.label.subarray(0, SEQ_LABEL_LENGTH), 4);
  view.setUint32(24, entry.state >>> 0, true);
  view.setUint32(28, (entry.crc ?? otaSelectCrc(entry.seq)) >>> 0, true);
  return out;
}

export function decodeOtaSelectEntry(bytes: Uint8Array, index: 0 | 1): DecodedOtaEntry {
  const view = new DataView(bytes.buffer, bytes.byteOffset, OTA_SELECT_ENTRY_SIZE);
  const seq = view.getUint32(0, true);
  const state = view.getUint32(24, true);
  const crc = view.getUint32(28, true);
  const crcOk = crc === otaSelectCrc(seq);
  const invalid = seq === UNSET || state === OTA_STATES.INVALID || state === OTA_STATES.ABORTED;
  return { index, seq, state, crc, label: bytes.slice(4, 4 + SEQ_LABEL_LENGTH), crcOk, valid: !invalid && crcOk, stateName: otaStateName(state) };
}

/** Both entries of an otadata partition's bytes (at least 0x2000 bytes). */
export function readOtadata(bytes: Uint8Array): [DecodedOtaEntry, DecodedOtaEntry] {
  if (bytes.length < OTADATA_SIZE) throw new RangeError(`otadata needs ${OTADATA_SIZE} bytes, got ${bytes.length}`);
  return [decodeOtaSelectEntry(bytes.subarray(0, OTA_SELECT_ENTRY_SIZE), 0), decodeOtaSelectEntry(bytes.subarray(OTADATA_SECTOR, OTADATA_SECTOR + OTA_SELECT_ENTRY_SIZE), 1)];
}

/** bootloader_common_get_active_otadata: the valid entry with the higher seq, else the only valid one, else -1. */
export function activeOtadataIndex(entries: readonly [DecodedOtaEntry, DecodedOtaEntry]): 0 | 1 | -1 {
  const [a, b] = entries;
  if (a.valid && b.valid) return a.seq > b.seq ? 0 : 1;
  if (a.valid) return 0;
  if (b.valid) return 1;
  return -1;
}

/** The OTA slot a sequence number selects. */
export function otaSlotForSeq(seq: number, otaSlotCount: number): number {
  return (seq - 1) % otaSlotCount;
}

/**
 * esp_ota_set_boot_partition's arithmetic (esp_rewrite_ota_data): the smallest seq ≥ the active one
 * that selects `slot`, written to the other sector; with no valid entry, slot + 1 into sector 0.
 */
export function nextOtaSelect(entries: readonly [DecodedOtaEntry, DecodedOtaEntry], slot: number, otaSlotCount: number): { index: 0 | 1; seq: number } {
  const active = activeOtadataIndex(entries);
  if (active === -1) return { index: 0, seq: slot + 1 };
  const seq = entries[active].seq;
  const base = (slot + 1) % otaSlotCount;
  let i = 0;
  while (seq > base + i * otaSlotCount) i++;
  return { index: active === 0 ? 1 : 0, seq: base + i * otaSlotCount };
}

/**
 * A whole otadata partition image (0x2000 bytes; erased = 0xFF), e.g. to flash a board that should
 * boot `ota_1`: `buildOtadata([{ seq: 2, state: OTA_STATES.VALID }])`.
 */
export function buildOtadata(entries: readonly ({ seq: number; state: number } | undefined)[] = []): Uint8Array {
  const out = new Uint8Array(OTADATA_SIZE).fill(0xff);
  entries.slice(0, 2).forEach((e, i) => {
    if (e) out.set(encodeOtaSelectEntry(e), i * OTADATA_SECTOR);
  });
  return out;
}

/** One line per entry, for logs and step details: `otadata[1]: seq 2 VALID (crc ok)`. */
export function describeOtaEntry(e: DecodedOtaEntry): string {
  if (e.seq === UNSET && e.state === UNSET && e.crc === UNSET) return `otadata[${e.index}]: erased`;
  return `otadata[${e.index}]: seq ${e.seq} ${e.stateName} (crc ${e.crcOk ? "ok" : "bad"})`;
}
