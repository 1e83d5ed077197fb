import { createHash } from "node:crypto";
import { constants, createInflate, deflateSync } from "node:zlib";
import { LabError } from "@hil/contracts";
import type { ESPLoader } from "esptool-js";

export interface CompressedWriteOptions {
  /** Uncompressed bytes acknowledged so far. */
  onProgress?: (written: number, total: number) => void;
  verify: boolean;
  /** Wraps each loader call (link-loss / abort guard). */
  race: <T>(p: Promise<T>) => Promise<T>;
}

const MIN_BLOCK_TIMEOUT_MS = 3000;
/** esptool's budget for erase+write, per MiB of uncompressed data. */
const ERASE_WRITE_MS_PER_MB = 40_000;

/**
 * Writes one region with FLASH_DEFL_BEGIN/DATA/END through esptool-js's own command methods, like
 * its writeFlash, minus one cost that matters on a stop-and-wait protocol: writeFlash inflates every
 * block again on the host (1-byte output chunks, ~20 ms per 16 KiB block) only to count progress,
 * and the wire idles meanwhile. Here compression is native zlib and the per-block uncompressed sizes
 * are known before the first block goes out.
 */
export async function writeCompressed(loader: ESPLoader, data: Uint8Array, offset: number, opts: CompressedWriteOptions): Promise<void> {
  const compressed = new Uint8Array(deflateSync(data, { level: 9 }));
  const blockSize = loader.FLASH_WRITE_SIZE;
  const ends = await uncompressedEnds(compressed, blockSize);
  const blocks = await opts.race(loader.flashDeflBegin(data.length, compressed.length, offset));
  opts.onProgress?.(0, data.length);
  // The stub ACKs on receipt and writes while the next block arrives, so a block's budget covers
  // the flash work of the block before it.
  let timeout = 5000;
  for (let seq = 0; seq < blocks; seq++) {
    const block = compressed.subarray(seq * blockSize, (seq + 1) * blockSize);
    await opts.race(loader.flashDeflBlock(block, seq, timeout));
    const done = Math.min(ends[seq] ?? data.length, data.length);
    const produced = done - (seq === 0 ? 0 : (ends[seq - 1] ?? 0));
    timeout = Math.max(MIN_BLOCK_TIMEOUT_MS, loader.timeoutPerMb(ERASE_WRITE_MS_PER_MB, produced));
    opts.onProgress?.(seq === blocks - 1 ? data.length : done, data.length);
  }
  if (loader.IS_STUB) await opts.race(loader.flashDeflFinish(false, timeout));
  if (opts.verify) {
    const expected = createHash("md5").update(data).digest("hex");
    const actual = normalizeMd5(await opts.race(loader.flashMd5sum(offset, data.length)));
    if (actual !== expected) {
      throw new LabError("FLASH_FAILED", `verification failed at 0x${offset.toString(16)}: flash MD5 ${actual}, image MD5 ${expected}; the flash chip or the link corrupted data, retry on another board`);
    }
  }
}

/**
 * esptool-js hex-encodes the raw response: the stub's 16 MD5 bytes give the digest, but the ROM
 * answers with 32 ASCII hex characters, which come out hex-encoded twice.
 */
export function normalizeMd5(reported: string): string {
  if (reported.length !== 64) return reported;
  let out = "";
  for (let i = 0; i < 64; i += 2) out += String.fromCharCode(parseInt(reported.slice(i, i + 2), 16));
  return out.toLowerCase();
}

/** For each compressed block, how many uncompressed bytes the stream holds up to its end. */
async function uncompressedEnds(compressed: Uint8Array, blockSize: number): Promise<number[]> {
  const inflate = createInflate();
  let total = 0;
  inflate.on("data", (chunk: Buffer) => (total += chunk.length));
  const ends: number[] = [];
  for (let o = 0; o < compressed.length; o += blockSize) {
    inflate.write(compressed.subarray(o, o + blockSize));
    await new Promise<void>((resolve) => inflate.flush(constants.Z_SYNC_FLUSH, () => resolve()));
    ends.push(total);
  }
  inflate.end();
  return ends;
}
