import { createHash } from "node:crypto";
import type { ScenarioSpec } from "../virtual/esp32/firmware/scenario-spec.js";
import { APP_DESC_SIZE, decodeAppDesc, type AppDesc } from "./app-desc.js";
import { FLASH_FREQS, FLASH_MODES, FLASH_SIZES, chipById, nameOfCode, type ChipName } from "./chips.js";
import { CHECKSUM_SEED, HASH_LENGTH, HEADER_SIZE, IMAGE_MAGIC, MAX_SEGMENTS, MAX_SEGMENT_LENGTH, MMU_PAGE, SEGMENT_HEADER_SIZE, isMappedAddress, xorBytes } from "./layout.js";
import { decodeScenarioBlob } from "./scenario-blob.js";

/** One thing wrong with an image, structured so the virtual bootloader can print ESP-IDF's own text. */
export type ImageFailure =
  | { kind: "too-short"; message: string; length: number }
  | { kind: "magic"; message: string; found: number }
  | { kind: "unknown-chip"; message: string; chipId: number }
  | { kind: "segment-count"; message: string; count: number }
  | { kind: "segment-length"; message: string; index: number; length: number }
  | { kind: "segment-truncated"; message: string; index: number; fileOffset: number }
  | { kind: "segment-map"; message: string; index: number; address: number; dataOffset: number }
  | { kind: "checksum-missing"; message: string }
  | { kind: "checksum"; message: string; calculated: number; stored: number }
  | { kind: "hash-missing"; message: string }
  | { kind: "hash"; message: string };

export interface Esp32ImageSegment {
  index: number;
  address: number;
  length: number;
  /** Offset of the segment's data (after its 8-byte header) within the image. */
  fileOffset: number;
}

export interface Esp32ImageInfo {
  ok: boolean;
  /** Each says exactly what is wrong, in words a person acts on. */
  problems: string[];
  failures: ImageFailure[];
  magic: number;
  segmentCount: number;
  chip: ChipName | "unknown";
  chipId: number;
  flashMode: string;
  flashFreq: string;
  flashSize: string;
  entry: number;
  minChipRev: number;
  maxChipRev: number;
  hashAppended: boolean;
  segments: Esp32ImageSegment[];
  checksum: { stored: number | null; calculated: number | null; valid: boolean };
  hash?: { stored: string; calculated: string; valid: boolean };
  appDesc?: AppDesc;
  /** Bytes from the header through the checksum (and the hash when appended). */
  imageLength: number;
  /** SHA-256 of the image's bytes [0, imageLength): what a scenario manifest is keyed by. */
  sha256: string;
  scenario?: ScenarioSpec;
  scenarioProblem?: string;
}

const hex = (n: number, width = 0) => `0x${n.toString(16).padStart(width, "0")}`;

/** Reads an app image; never throws for bad data: what is wrong ends up in `problems`. */
export function readEsp32Image(bytes: Uint8Array): Esp32ImageInfo {
  const failures: ImageFailure[] = [];
  const info: Esp32ImageInfo = {
    ok: false,
    problems: [],
    failures,
    magic: bytes[0] ?? 0,
    segmentCount: bytes[1] ?? 0,
    chip: "unknown",
    chipId: -1,
    flashMode: "unknown",
    flashFreq: "unknown",
    flashSize: "unknown",
    entry: 0,
    minChipRev: 0,
    maxChipRev: 0,
    hashAppended: false,
    segments: [],
    checksum: { stored: null, calculated: null, valid: false },
    imageLength: bytes.length,
    sha256: "",
  };
  const finish = (): Esp32ImageInfo => {
    info.problems = failures.map((f) => f.message);
    info.ok = failures.length === 0;
    info.sha256 = createHash("sha256").update(bytes.subarray(0, info.imageLength)).digest("hex");
    return info;
  };

  if (bytes.length < HEADER_SIZE) {
    failures.push({ kind: "too-short", length: bytes.length, message: `file is ${bytes.length} bytes, shorter than the ${HEADER_SIZE}-byte image header: not an app image` });
    return finish();
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const mode = bytes[2] ?? 0;
  const sizeFreq = bytes[3] ?? 0;
  info.flashMode = FLASH_MODES[mode] ?? `unknown (${hex(mode)})`;
  info.flashFreq = nameOfCode(FLASH_FREQS, sizeFreq & 0xf) ?? `unknown (${hex(sizeFreq & 0xf)})`;
  info.flashSize = nameOfCode(FLASH_SIZES, sizeFreq >> 4) ?? `unknown (${hex(sizeFreq >> 4)})`;
  info.entry = view.getUint32(4, true);
  info.chipId = view.getUint16(12, true);
  info.chip = chipById(info.chipId);
  info.minChipRev = view.getUint16(15, true);
  info.maxChipRev = view.getUint16(17, true);
  info.hashAppended = bytes[23] === 1;

  if (info.magic !== IMAGE_MAGIC) {
    const what = info.magic === 0xff ? "erased flash (nothing flashed here?)" : "not an ESP32 app image";
    failures.push({ kind: "magic", found: info.magic, message: `invalid magic byte ${hex(info.magic, 2)} (expected 0xe9): ${what}` });
    return finish();
  }
  if (info.chip === "unknown") {
    failures.push({ kind: "unknown-chip", chipId: info.chipId, message: `unknown chip id ${info.chipId} in the header: no ESP32-family chip runs this image` });
  }
  if (info.segmentCount > MAX_SEGMENTS) {
    failures.push({ kind: "segment-count", count: info.segmentCount, message: `segment count ${info.segmentCount} exceeds max ${MAX_SEGMENTS}` });
    return finish();
  }

  let offset = HEADER_SIZE;
  let checksum = CHECKSUM_SEED;
  for (let index = 0; index < info.segmentCount; index++) {
    if (offset + SEGMENT_HEADER_SIZE > bytes.length) {
      failures.push({
        kind: "segment-truncated",
        index,
        fileOffset: offset,
        message: `segment ${index} header at offset ${hex(offset)} is past the end of the file (${hex(bytes.length)} bytes): the header claims ${info.segmentCount} segments but the file holds ${index}`,
      });
      return finish();
    }
    const address = view.getUint32(offset, true);
    const length = view.getUint32(offset + 4, true);
    const dataOffset = offset + SEGMENT_HEADER_SIZE;
    if (length % 4 !== 0 || length >= MAX_SEGMENT_LENGTH) {
      failures.push({ kind: "segment-length", index, length, message: `segment ${index} has invalid length ${hex(length)} (must be a multiple of 4 and under 16 MiB)` });
      return finish();
    }
    if (dataOffset + length > bytes.length) {
      failures.push({
        kind: "segment-truncated",
        index,
        fileOffset: dataOffset,
        message: `segment ${index} (load address ${hex(address, 8)}) needs ${hex(length)} bytes at offset ${hex(dataOffset)} but only ${hex(bytes.length - dataOffset)} remain: file truncated`,
      });
      return finish();
    }
    if (isMappedAddress(address) && dataOffset % MMU_PAGE !== address % MMU_PAGE) {
      failures.push({
        kind: "segment-map",
        index,
        address,
        dataOffset,
        message: `segment ${index} load address ${hex(address, 8)} doesn't match its data offset ${hex(dataOffset, 8)} modulo the 64 KiB MMU page`,
      });
    }
    info.segments.push({ index, address, length, fileOffset: dataOffset });
    checksum = xorBytes(checksum, bytes.subarray(dataOffset, dataOffset + length));
    offset = dataOffset + length;
  }

  const checksumAt = ((offset + 1 + 15) & ~15) - 1;
  info.checksum.calculated = checksum;
  if (checksumAt >= bytes.length) {
    failures.push({ kind: "checksum-missing", message: `file ends at ${hex(bytes.length)} before the checksum byte at ${hex(checksumAt)}: file truncated` });
    return finish();
  }
  const stored = bytes[checksumAt] ?? 0;
  info.checksum.stored = stored;
  info.checksum.valid = stored === checksum;
  if (!info.checksum.valid) {
    failures.push({ kind: "checksum", calculated: checksum, stored, message: `checksum failed: calculated ${hex(checksum, 2)}, stored ${hex(stored, 2)}` });
  }
  info.imageLength = checksumAt + 1;

  if (info.hashAppended) {
    const end = info.imageLength + HASH_LENGTH;
    if (end > bytes.length) {
      failures.push({ kind: "hash-missing", message: `header says a SHA-256 is appended, but the file ends at ${hex(bytes.length)}, before ${hex(end)}: file truncated` });
    } else {
      const calculated = createHash("sha256").update(bytes.subarray(0, info.imageLength)).digest("hex");
      const storedHash = Buffer.from(bytes.subarray(info.imageLength, end)).toString("hex");
      info.hash = { stored: storedHash, calculated, valid: storedHash === calculated };
      if (!info.hash.valid) failures.push({ kind: "hash", message: `validation hash failed: calculated ${calculated}, stored ${storedHash}: image is corrupt` });
      info.imageLength = end;
    }
  }

  readAppDescAndScenario(bytes, info);
  return finish();
}

/** ESP-IDF links esp_app_desc_t first into the first data segment; tolerate images that do not. */
function readAppDescAndScenario(bytes: Uint8Array, info: Esp32ImageInfo): void {
  for (const seg of info.segments) {
    const data = bytes.subarray(seg.fileOffset, seg.fileOffset + seg.length);
    const desc = decodeAppDesc(data);
    if (!desc) continue;
    info.appDesc = desc;
    const blob = decodeScenarioBlob(data.subarray(APP_DESC_SIZE));
    if (blob.found && blob.scenario) info.scenario = blob.scenario;
    if (blob.found && blob.problem) info.scenarioProblem = blob.problem;
    return;
  }
}
