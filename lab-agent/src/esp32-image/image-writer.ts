import { createHash } from "node:crypto";
import type { ScenarioSpecInput } from "../virtual/esp32/firmware/scenario-spec.js";
import { encodeAppDesc, type AppDescInput } from "./app-desc.js";
import { CHIP_FACTS, CHIP_IDS, FLASH_FREQS, FLASH_MODES, FLASH_SIZES, type ChipName, type FlashFreq, type FlashMode, type FlashSizeName } from "./chips.js";
import { encodeScenarioBlob } from "./scenario-blob.js";
import { CHECKSUM_SEED, HEADER_SIZE, MAX_SEGMENTS, MMU_PAGE, SEGMENT_HEADER_SIZE, isMappedAddress, xorBytes } from "./layout.js";

export interface ImageSegmentInput {
  address: number;
  data: Uint8Array;
}

export interface BuildEsp32ImageOptions {
  chip?: ChipName;
  entry?: number;
  flashMode?: FlashMode;
  flashFreq?: FlashFreq;
  flashSize?: FlashSizeName;
  /** Segments after the app-description segment; a small DRAM + IRAM pair when absent. */
  segments?: ImageSegmentInput[];
  /** Defaults to project "hil_app" version "1.0.0"; null builds an image without esp_app_desc_t. */
  appDesc?: AppDescInput | null;
  appendHash?: boolean;
  scenario?: ScenarioSpecInput;
  /** Make the image exactly this long (a multiple of 16) with a filler segment of incompressible bytes. */
  padTo?: number;
  /** Seed for the filler bytes, so two padded images can differ. */
  padSeed?: number;
}

const DEFAULT_APP_DESC: AppDescInput = { projectName: "hil_app", version: "1.0.0" };

/**
 * Builds an app image the way esptool's elf2image lays one out: header, segments (mapped ones
 * aligned to their 64 KiB MMU page by padding segments), XOR checksum, optional SHA-256.
 */
export function buildEsp32Image(opts: BuildEsp32ImageOptions = {}): Uint8Array {
  const chip = opts.chip ?? "esp32";
  const facts = CHIP_FACTS[chip];
  const appendHash = opts.appendHash ?? true;

  const segments: ImageSegmentInput[] = [];
  const descPart = opts.appDesc === null ? undefined : encodeAppDesc(opts.appDesc ?? DEFAULT_APP_DESC);
  const blob = opts.scenario === undefined ? undefined : encodeScenarioBlob(opts.scenario);
  if (descPart || blob) {
    // The DROM segment's data sits at image offset 0x20, so a load address of base+0x20 keeps
    // the flash offset and the mapped address equal modulo the MMU page, as the bootloader checks.
    segments.push({ address: facts.dromBase + HEADER_SIZE + SEGMENT_HEADER_SIZE, data: concat([descPart ?? new Uint8Array(0), blob ?? new Uint8Array(0)]) });
  }
  segments.push(...(opts.segments ?? defaultCodeSegments(chip)));

  const header = new Uint8Array(HEADER_SIZE);
  const view = new DataView(header.buffer);
  header[0] = 0xe9;
  header[2] = FLASH_MODES.indexOf(opts.flashMode ?? "dio");
  header[3] = (FLASH_SIZES[opts.flashSize ?? "4MB"] << 4) | FLASH_FREQS[opts.flashFreq ?? "40m"];
  view.setUint32(4, opts.entry ?? facts.iram + 0x40c, true);
  header[8] = 0xee; // WP pin disabled
  view.setUint16(12, CHIP_IDS[chip], true);
  view.setUint16(17, 0xffff, true); // max chip revision: any
  header[23] = appendHash ? 1 : 0;

  const laidOut = layOutSegments(segments);
  if (opts.padTo !== undefined) appendFiller(laidOut, opts.padTo, appendHash, opts.padSeed ?? 1);
  if (laidOut.length > MAX_SEGMENTS) throw new RangeError(`an image holds at most ${MAX_SEGMENTS} segments, this one needs ${laidOut.length}`);
  header[1] = laidOut.length;

  const parts: Uint8Array[] = [header];
  let checksum = CHECKSUM_SEED;
  let length = HEADER_SIZE;
  for (const seg of laidOut) {
    const segHeader = new Uint8Array(SEGMENT_HEADER_SIZE);
    const segView = new DataView(segHeader.buffer);
    segView.setUint32(0, seg.address, true);
    segView.setUint32(4, seg.data.length, true);
    parts.push(segHeader, seg.data);
    checksum = xorBytes(checksum, seg.data);
    length += SEGMENT_HEADER_SIZE + seg.data.length;
  }
  // Zero padding so the checksum byte ends a 16-byte block.
  const padded = (length + 1 + 15) & ~15;
  const tail = new Uint8Array(padded - length);
  tail[tail.length - 1] = checksum;
  parts.push(tail);
  let image = concat(parts);
  if (appendHash) image = concat([image, createHash("sha256").update(image).digest()]);
  if (opts.padTo !== undefined && image.length !== opts.padTo) throw new Error(`internal: padded image is ${image.length} bytes, wanted ${opts.padTo}`);
  return image;
}

function defaultCodeSegments(chip: ChipName): ImageSegmentInput[] {
  const facts = CHIP_FACTS[chip];
  const dram = new Uint8Array(64);
  const iram = new Uint8Array(128);
  for (let i = 0; i < dram.length; i++) dram[i] = (i * 7) & 0xff;
  for (let i = 0; i < iram.length; i++) iram[i] = (i * 13 + 5) & 0xff;
  return [
    { address: facts.dram, data: dram },
    { address: facts.iram, data: iram },
  ];
}

/** Pads data to 4 bytes and inserts padding segments (load address 0) before misaligned mapped ones. */
function layOutSegments(segments: ImageSegmentInput[]): ImageSegmentInput[] {
  const out: ImageSegmentInput[] = [];
  let offset = HEADER_SIZE;
  for (const seg of segments) {
    const data = seg.data.length % 4 === 0 ? seg.data : concat([seg.data, new Uint8Array(4 - (seg.data.length % 4))]);
    if (isMappedAddress(seg.address) && (offset + SEGMENT_HEADER_SIZE) % MMU_PAGE !== seg.address % MMU_PAGE) {
      if (seg.address % 4 !== 0) throw new RangeError(`mapped segment address 0x${seg.address.toString(16)} is not 4-byte aligned`);
      const want = seg.address % MMU_PAGE;
      const padLength = (((want - (offset + 2 * SEGMENT_HEADER_SIZE)) % MMU_PAGE) + MMU_PAGE) % MMU_PAGE;
      out.push({ address: 0, data: new Uint8Array(padLength) });
      offset += SEGMENT_HEADER_SIZE + padLength;
    }
    out.push({ address: seg.address, data });
    offset += SEGMENT_HEADER_SIZE + data.length;
  }
  return out;
}

function appendFiller(segments: ImageSegmentInput[], padTo: number, hash: boolean, seed: number): void {
  const body = padTo - (hash ? 32 : 0);
  if (!Number.isInteger(padTo) || body % 16 !== 0) throw new RangeError(`padTo must be a multiple of 16 bytes, got ${padTo}`);
  const used = HEADER_SIZE + segments.reduce((n, s) => n + SEGMENT_HEADER_SIZE + s.data.length, 0) + SEGMENT_HEADER_SIZE;
  // used is a multiple of 4; a filler of body-used-4 bytes leaves exactly the zero pad + checksum.
  const fillerLength = body - used - 4;
  if (fillerLength < 0) throw new RangeError(`padTo ${padTo} is smaller than the image itself (${used + 4 + (hash ? 32 : 0)} bytes)`);
  segments.push({ address: 0, data: fillerBytes(fillerLength, seed) });
}

/** xorshift32: fast, reproducible, and incompressible enough to make flashing take real time. */
function fillerBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, Math.floor(length / 4));
  let x = (seed | 0) || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return out;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
