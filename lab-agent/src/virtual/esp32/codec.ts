/**
 * Loader packet layout (PROTOCOLS.md §A.4): requests `00 op len16 chk32 data`, responses
 * `01 op len16 value32 data+status`. ROM status is 4 bytes, stub status 2 (stub v2 writes its
 * 16-bit error code big-endian).
 */

export const OP = {
  FLASH_BEGIN: 0x02,
  FLASH_DATA: 0x03,
  FLASH_END: 0x04,
  MEM_BEGIN: 0x05,
  MEM_END: 0x06,
  MEM_DATA: 0x07,
  SYNC: 0x08,
  WRITE_REG: 0x09,
  READ_REG: 0x0a,
  SPI_SET_PARAMS: 0x0b,
  SPI_ATTACH: 0x0d,
  READ_FLASH_SLOW: 0x0e,
  CHANGE_BAUDRATE: 0x0f,
  FLASH_DEFL_BEGIN: 0x10,
  FLASH_DEFL_DATA: 0x11,
  FLASH_DEFL_END: 0x12,
  SPI_FLASH_MD5: 0x13,
  GET_SECURITY_INFO: 0x14,
  ERASE_FLASH: 0xd0,
  ERASE_REGION: 0xd1,
  READ_FLASH: 0xd2,
  RUN_USER_CODE: 0xd3,
} as const;

/** ROM error codes (second status byte), §A.7. */
export const ROM_ERR = {
  INVALID_PARAM: 0x01,
  RECEIVE_FAILED: 0x04,
  INVALID_MESSAGE: 0x05,
  CHECKSUM: 0x07,
  FLASH_WRITE: 0x08,
  FLASH_READ: 0x09,
  FLASH_READ_LENGTH: 0x0a,
  DEFLATE_FAILED: 0x0b,
  DEFLATE_ADLER: 0x0c,
  INVALID_RAM_SIZE: 0x0e,
  INVALID_RAM_ADDR: 0x0f,
} as const;

/** Stub v2 (esp-flasher-stub) 16-bit codes, sent big-endian. */
export const STUB_ERR = {
  BAD_DATA_LEN: 0xc000,
  BAD_CHECKSUM: 0xc100,
  BAD_BLOCKSIZE: 0xc200,
  INVALID_COMMAND: 0xc300,
  FAILED_SPI_OP: 0xc400,
  NOT_IN_FLASH_MODE: 0xc600,
  INFLATE_ERROR: 0xc700,
  NOT_ENOUGH_DATA: 0xc800,
  TOO_MUCH_DATA: 0xc900,
  NOT_IMPLEMENTED: 0xff00,
} as const;

export const CHECKSUM_SEED = 0xef;

export interface LoaderRequest {
  op: number;
  checksum: number;
  data: Uint8Array;
}

/** Null for frames too short to be a request or with the wrong direction byte. */
export function parseRequest(frame: Uint8Array): LoaderRequest | null {
  if (frame.length < 8 || frame[0] !== 0x00) return null;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const size = view.getUint16(2, true);
  // A declared size beyond the frame means a truncated packet; the ROM drops it.
  if (8 + size > frame.length) return null;
  return { op: view.getUint8(1), checksum: view.getUint32(4, true), data: frame.subarray(8, 8 + size) };
}

export function buildResponse(op: number, value: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + body.length);
  const view = new DataView(out.buffer);
  out[0] = 0x01;
  out[1] = op;
  view.setUint16(2, body.length, true);
  view.setUint32(4, value >>> 0, true);
  out.set(body, 8);
  return out;
}

/** Status bytes: ROM `[status, error, 0, 0]`, stub v2 the 16-bit code big-endian (0 0 on success). */
export function statusBytes(stub: boolean, error: number): Uint8Array {
  if (stub) return Uint8Array.of((error >> 8) & 0xff, error & 0xff);
  return Uint8Array.of(error === 0 ? 0 : 1, error & 0xff, 0, 0);
}

export function xorChecksum(data: Uint8Array): number {
  let c = CHECKSUM_SEED;
  for (const b of data) c ^= b;
  return c;
}

/** Little-endian u32 words of a payload; missing words read as undefined. */
export function words(data: Uint8Array): number[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= data.length; i += 4) out.push(view.getUint32(i, true));
  return out;
}

export function u32le(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
