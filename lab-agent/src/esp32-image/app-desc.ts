import { createHash } from "node:crypto";

/**
 * esp_app_desc_t (esp_app_format/include/esp_app_desc.h): 256 bytes at the start of the first
 * flash-mapped data segment. ESP-IDF's startup log prints its fields; so does `hil image info`.
 */
export const APP_DESC_MAGIC = 0xabcd5432;
export const APP_DESC_SIZE = 256;

export interface AppDescInput {
  projectName: string;
  version: string;
  idfVersion?: string;
  /** As __DATE__ prints it, e.g. "Jan 10 2025". */
  date?: string;
  /** As __TIME__ prints it, e.g. "12:00:00". */
  time?: string;
  secureVersion?: number;
  /** 64 hex digits; derived from name and version when absent so test images stay reproducible. */
  elfSha256?: string;
}

export interface AppDesc {
  magic: number;
  secureVersion: number;
  version: string;
  projectName: string;
  time: string;
  date: string;
  idfVersion: string;
  elfSha256: string;
}

export const DEFAULT_IDF_VERSION = "v5.2.1";

const FIELDS = {
  magic: 0,
  secureVersion: 4,
  version: [16, 32],
  projectName: [48, 32],
  time: [80, 16],
  date: [96, 16],
  idfVersion: [112, 32],
  elfSha256: [144, 32],
} as const;

export function encodeAppDesc(input: AppDescInput): Uint8Array {
  const out = new Uint8Array(APP_DESC_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(FIELDS.magic, APP_DESC_MAGIC, true);
  view.setUint32(FIELDS.secureVersion, input.secureVersion ?? 0, true);
  putString(out, FIELDS.version, input.version);
  putString(out, FIELDS.projectName, input.projectName);
  putString(out, FIELDS.time, input.time ?? "12:00:00");
  putString(out, FIELDS.date, input.date ?? "Jan 10 2025");
  putString(out, FIELDS.idfVersion, input.idfVersion ?? DEFAULT_IDF_VERSION);
  const elf = input.elfSha256 ?? createHash("sha256").update(`${input.projectName}\0${input.version}`).digest("hex");
  if (!/^[0-9a-fA-F]{64}$/.test(elf)) throw new RangeError("appDesc.elfSha256 must be 64 hex digits");
  out.set(Buffer.from(elf, "hex"), FIELDS.elfSha256[0]);
  return out;
}

/** Undefined when the bytes do not start with the app description magic. */
export function decodeAppDesc(bytes: Uint8Array): AppDesc | undefined {
  if (bytes.length < APP_DESC_SIZE) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(FIELDS.magic, true);
  if (magic !== APP_DESC_MAGIC) return undefined;
  const [shaAt, shaLen] = FIELDS.elfSha256;
  return {
    magic,
    secureVersion: view.getUint32(FIELDS.secureVersion, true),
    version: getString(bytes, FIELDS.version),
    projectName: getString(bytes, FIELDS.projectName),
    time: getString(bytes, FIELDS.time),
    date: getString(bytes, FIELDS.date),
    idfVersion: getString(bytes, FIELDS.idfVersion),
    elfSha256: Buffer.from(bytes.subarray(shaAt, shaAt + shaLen)).toString("hex"),
  };
}

function putString(out: Uint8Array, [at, size]: readonly [number, number], value: string): void {
  const encoded = new TextEncoder().encode(value);
  // The C fields are NUL-terminated char arrays: one byte is reserved for the terminator.
  if (encoded.length > size - 1) throw new RangeError(`"${value}" is longer than the ${size - 1} bytes esp_app_desc_t has for it`);
  out.set(encoded, at);
}

function getString(bytes: Uint8Array, [at, size]: readonly [number, number]): string {
  const field = bytes.subarray(at, at + size);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end === -1 ? field : field.subarray(0, end));
}
