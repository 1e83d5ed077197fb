import { LabError } from "@hil/contracts";

const APP_DESC_MAGIC = 0xabcd5432;
/** esp_app_desc_t sits right after the 24-byte image header and the first 8-byte segment header. */
const APP_DESC_AT = 0x20;

export interface ImageArg {
  path: string;
  offset?: number;
}

/** Splits "build/app.bin@0x10000" into a path and an offset (hex with 0x, or decimal). */
export function parseImageArg(arg: string): ImageArg {
  const at = arg.lastIndexOf("@");
  if (at <= 0) return { path: arg };
  const path = arg.slice(0, at);
  const text = arg.slice(at + 1).trim();
  const offset = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(offset)) {
    throw new LabError("USAGE", `"${text}" in "${arg}" is not a flash offset; write IMAGE@0x10000 or IMAGE@65536`);
  }
  return { path, offset };
}

/**
 * The offset an image goes to when none was given: only an app image (0xE9 header followed by an
 * esp_app_desc_t) has an obvious home, the profile's app offset. Anything else needs IMAGE@OFFSET.
 */
export function defaultOffset(bytes: Uint8Array, appOffset: number): number | undefined {
  if (bytes.length < APP_DESC_AT + 4 || bytes[0] !== 0xe9) return undefined;
  const magic = new DataView(bytes.buffer, bytes.byteOffset + APP_DESC_AT, 4).getUint32(0, true);
  return magic === APP_DESC_MAGIC ? appOffset : undefined;
}
