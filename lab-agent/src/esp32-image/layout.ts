/** Sizes and rules of the app image format shared by the reader and the writer (PROTOCOLS.md §G.1). */
export const IMAGE_MAGIC = 0xe9;
export const HEADER_SIZE = 24;
export const SEGMENT_HEADER_SIZE = 8;
/** ESP_IMAGE_MAX_SEGMENTS in ESP-IDF. */
export const MAX_SEGMENTS = 16;
export const CHECKSUM_SEED = 0xef;
export const HASH_LENGTH = 32;
/** Flash cache MMU page: a mapped segment's flash offset and address agree modulo this. */
export const MMU_PAGE = 0x10000;
/** The bootloader rejects segment lengths of 16 MiB or more. */
export const MAX_SEGMENT_LENGTH = 0x1000000;

/** ESP32 flash-mapped windows (SOC_DROM_LOW/HIGH, SOC_IROM_LOW/HIGH). */
export function isMappedAddress(address: number): boolean {
  return (address >= 0x3f400000 && address < 0x3f800000) || (address >= 0x400d0000 && address < 0x40400000);
}

/** XOR of all bytes into `seed`; word-wise when the data is 4-byte aligned, as the bootloader does it. */
export function xorBytes(seed: number, data: Uint8Array): number {
  let acc = seed;
  let i = 0;
  if (data.byteOffset % 4 === 0 && data.length >= 64) {
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length >>> 2);
    let w = 0;
    for (let k = 0; k < words.length; k++) w ^= words[k] ?? 0;
    acc ^= (w ^ (w >>> 8) ^ (w >>> 16) ^ (w >>> 24)) & 0xff;
    i = words.length * 4;
  }
  for (; i < data.length; i++) acc ^= data[i] ?? 0;
  return acc;
}
