import { createHash } from "node:crypto";

/**
 * The ESP-IDF partition table (gen_esp32part.py): 32-byte entries at 0x8000, an optional MD5
 * entry, 0xFF after the end. At most 0xC00 bytes.
 */
export const PARTITION_TABLE_OFFSET = 0x8000;
export const PARTITION_TABLE_MAX = 0xc00;
const ENTRY_SIZE = 32;
const ENTRY_MAGIC = [0xaa, 0x50] as const;
const MD5_MAGIC = [0xeb, 0xeb] as const;

const TYPES = { app: 0x00, data: 0x01 } as const;
const APP_SUBTYPES: Record<string, number> = { factory: 0x00, test: 0x20 };
for (let n = 0; n < 16; n++) APP_SUBTYPES[`ota_${n}`] = 0x10 + n;
const DATA_SUBTYPES: Record<string, number> = { ota: 0x00, phy: 0x01, nvs: 0x02, coredump: 0x03, nvs_keys: 0x04, efuse: 0x05, undefined: 0x06, esphttpd: 0x80, fat: 0x81, spiffs: 0x82, littlefs: 0x83 };

export interface PartitionEntryInput {
  label: string;
  type: "app" | "data" | number;
  subtype: string | number;
  offset: number;
  size: number;
  encrypted?: boolean;
  readonly?: boolean;
}

export interface PartitionEntry {
  label: string;
  type: number;
  subtype: number;
  offset: number;
  size: number;
  flags: number;
  /** "app"/"data" and the subtype's name where known, e.g. "factory", "ota_0", "nvs". */
  typeName: string;
  subtypeName: string;
}

export interface PartitionTableInfo {
  ok: boolean;
  problems: string[];
  entries: PartitionEntry[];
  md5?: { stored: string; calculated: string; valid: boolean };
}

/** The table ESP-IDF uses when a project picks "single factory app" (partitions_singleapp.csv). */
export const SINGLE_APP_TABLE: PartitionEntryInput[] = [
  { label: "nvs", type: "data", subtype: "nvs", offset: 0x9000, size: 0x6000 },
  { label: "phy_init", type: "data", subtype: "phy", offset: 0xf000, size: 0x1000 },
  { label: "factory", type: "app", subtype: "factory", offset: 0x10000, size: 0x100000 },
];

/**
 * ESP-IDF's "Factory app, two OTA definitions" (partitions_two_ota.csv): nvs, otadata at 0xd000,
 * phy_init, factory at 0x10000 and two 1 MiB OTA slots.
 */
export const TWO_OTA_TABLE: PartitionEntryInput[] = [
  { label: "nvs", type: "data", subtype: "nvs", offset: 0x9000, size: 0x4000 },
  { label: "otadata", type: "data", subtype: "ota", offset: 0xd000, size: 0x2000 },
  { label: "phy_init", type: "data", subtype: "phy", offset: 0xf000, size: 0x1000 },
  { label: "factory", type: "app", subtype: "factory", offset: 0x10000, size: 0x100000 },
  { label: "ota_0", type: "app", subtype: "ota_0", offset: 0x110000, size: 0x100000 },
  { label: "ota_1", type: "app", subtype: "ota_1", offset: 0x210000, size: 0x100000 },
];

/**
 * Two OTA slots and no factory app: the app is flashed at ota_0 (0x10000, where a single-app
 * build's app goes) and the bootloader boots it while otadata is erased.
 */
export const OTA_ONLY_TABLE: PartitionEntryInput[] = [
  { label: "nvs", type: "data", subtype: "nvs", offset: 0x9000, size: 0x4000 },
  { label: "otadata", type: "data", subtype: "ota", offset: 0xd000, size: 0x2000 },
  { label: "phy_init", type: "data", subtype: "phy", offset: 0xf000, size: 0x1000 },
  { label: "ota_0", type: "app", subtype: "ota_0", offset: 0x10000, size: 0x180000 },
  { label: "ota_1", type: "app", subtype: "ota_1", offset: 0x190000, size: 0x180000 },
];

export function buildPartitionTable(entries: PartitionEntryInput[], opts: { md5?: boolean } = {}): Uint8Array {
  const withMd5 = opts.md5 ?? true;
  const needed = (entries.length + (withMd5 ? 1 : 0)) * ENTRY_SIZE;
  if (needed > PARTITION_TABLE_MAX) throw new RangeError(`${entries.length} partitions do not fit in the ${PARTITION_TABLE_MAX}-byte table`);
  const out = new Uint8Array(PARTITION_TABLE_MAX).fill(0xff);
  const view = new DataView(out.buffer);
  entries.forEach((e, i) => {
    const at = i * ENTRY_SIZE;
    const type = typeof e.type === "number" ? e.type : TYPES[e.type];
    const subtype = resolveSubtype(type, e.subtype);
    const label = new TextEncoder().encode(e.label);
    if (label.length > 16) throw new RangeError(`partition label "${e.label}" is longer than 16 bytes`);
    out.set(ENTRY_MAGIC, at);
    out[at + 2] = type;
    out[at + 3] = subtype;
    view.setUint32(at + 4, e.offset, true);
    view.setUint32(at + 8, e.size, true);
    out.fill(0, at + 12, at + 28);
    out.set(label, at + 12);
    view.setUint32(at + 28, (e.encrypted ? 1 : 0) | (e.readonly ? 2 : 0), true);
  });
  if (withMd5) {
    const at = entries.length * ENTRY_SIZE;
    out.set(MD5_MAGIC, at);
    out.set(createHash("md5").update(out.subarray(0, at)).digest(), at + 16);
  }
  return out;
}

/** Never throws: an erased or damaged table reads as entries so far plus problems. */
export function readPartitionTable(bytes: Uint8Array): PartitionTableInfo {
  const problems: string[] = [];
  const entries: PartitionEntry[] = [];
  let md5: PartitionTableInfo["md5"];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const limit = Math.min(bytes.length, PARTITION_TABLE_MAX);
  let at = 0;
  for (; at + ENTRY_SIZE <= limit; at += ENTRY_SIZE) {
    const m0 = bytes[at];
    const m1 = bytes[at + 1];
    if (m0 === 0xff && m1 === 0xff) break;
    if (m0 === MD5_MAGIC[0] && m1 === MD5_MAGIC[1]) {
      const calculated = createHash("md5").update(bytes.subarray(0, at)).digest("hex");
      const stored = Buffer.from(bytes.subarray(at + 16, at + 32)).toString("hex");
      md5 = { stored, calculated, valid: stored === calculated };
      if (!md5.valid) problems.push(`partition table MD5 mismatch: calculated ${calculated}, stored ${stored}`);
      continue;
    }
    if (m0 !== ENTRY_MAGIC[0] || m1 !== ENTRY_MAGIC[1]) {
      problems.push(`partition ${entries.length} invalid magic number 0x${(((m1 ?? 0) << 8) | (m0 ?? 0)).toString(16)} at table offset 0x${at.toString(16)}`);
      break;
    }
    const type = bytes[at + 2] ?? 0;
    const subtype = bytes[at + 3] ?? 0;
    const labelBytes = bytes.subarray(at + 12, at + 28);
    const end = labelBytes.indexOf(0);
    const entry: PartitionEntry = {
      label: new TextDecoder().decode(end === -1 ? labelBytes : labelBytes.subarray(0, end)),
      type,
      subtype,
      offset: view.getUint32(at + 4, true),
      size: view.getUint32(at + 8, true),
      flags: view.getUint32(at + 28, true),
      typeName: type === 0 ? "app" : type === 1 ? "data" : `0x${type.toString(16)}`,
      subtypeName: subtypeName(type, subtype),
    };
    entries.push(entry);
  }
  if (entries.length === 0 && problems.length === 0) problems.push("no partition table: the first entry is erased (0xFF)");
  return { ok: problems.length === 0, problems, entries, ...(md5 ? { md5 } : {}) };
}

/** Text the bootloader's partition listing shows in its Usage column (bootloader_utility.c). */
export function partitionUsage(entry: PartitionEntry): string {
  if (entry.type === 0) {
    if (entry.subtype === 0x00) return "factory app";
    if (entry.subtype >= 0x10 && entry.subtype < 0x20) return "OTA app";
    if (entry.subtype === 0x20) return "test app";
    return "Unknown app";
  }
  if (entry.type === 1) {
    const usage: Record<number, string> = { 0x00: "OTA data", 0x01: "RF data", 0x02: "WiFi data", 0x04: "NVS keys", 0x05: "efuse" };
    return usage[entry.subtype] ?? "unknown";
  }
  return "unknown";
}

function resolveSubtype(type: number, subtype: string | number): number {
  if (typeof subtype === "number") return subtype;
  const table = type === 0 ? APP_SUBTYPES : type === 1 ? DATA_SUBTYPES : {};
  const value = table[subtype];
  if (value === undefined) throw new RangeError(`unknown subtype "${subtype}" for partition type ${type}`);
  return value;
}

function subtypeName(type: number, subtype: number): string {
  const table = type === 0 ? APP_SUBTYPES : type === 1 ? DATA_SUBTYPES : {};
  for (const [name, value] of Object.entries(table)) if (value === subtype) return name;
  return `0x${subtype.toString(16).padStart(2, "0")}`;
}
