// What an OTA server can do wrong on purpose, so a suite sees the device reject it: an image built
// for another chip (otherwise valid: header chip id changed, appended SHA-256 recomputed) and an
// image with one flipped byte in its code (the checksum and hash no longer match), and a signed image
// with its Secure Boot V2 signature sector taken off (what an unsigned build of it would be).
import { createHash } from "node:crypto";
import { CHIP_IDS, type ChipName } from "../../esp32-image/chips.js";
import { readEsp32Image } from "../../esp32-image/image-reader.js";
import { stripSignatureV2 } from "../../esp32-image/secure-boot-v2.js";

/** The image as if built for `chip` (default ESP32-S3): only the header's chip id differs. */
export function wrongChipImage(image: Uint8Array, chip: ChipName = "esp32s3"): Uint8Array {
  if (image.length < 24) throw new RangeError(`an ESP32 image has a 24-byte header; this one has ${image.length} bytes`);
  const out = new Uint8Array(image);
  new DataView(out.buffer).setUint16(12, CHIP_IDS[chip], true);
  const info = readEsp32Image(out);
  if (info.hashAppended && info.imageLength <= out.length) {
    const end = info.imageLength - 32;
    out.set(createHash("sha256").update(out.subarray(0, end)).digest(), end);
  }
  return out;
}

/**
 * One byte inverted. Without `offset`: in the middle of the last segment's data (the checksum the
 * bootloader and esp_ota_end check first then fails), else at offset 24 (the first segment header).
 */
export function corruptImage(image: Uint8Array, offset?: number): { bytes: Uint8Array; offset: number } {
  const out = new Uint8Array(image);
  let at = offset;
  if (at === undefined) {
    const last = readEsp32Image(image).segments.at(-1);
    at = last && last.length > 0 ? last.fileOffset + Math.floor(last.length / 2) : Math.min(24, image.length - 1);
  }
  if (at < 0 || at >= out.length) throw new RangeError(`corrupt offset ${at} is outside the ${out.length}-byte image`);
  out[at] = (out[at] ?? 0) ^ 0xff;
  return { bytes: out, offset: at };
}

/** The image without its signature sector; undefined when it carries none (nothing to take off). */
export function unsignedImage(image: Uint8Array): Uint8Array | undefined {
  return stripSignatureV2(image, readEsp32Image(image).imageLength);
}
