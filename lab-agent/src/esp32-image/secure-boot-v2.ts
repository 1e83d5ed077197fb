/**
 * ESP-IDF's Secure Boot V2 app signature (RSA-3072, RSA-PSS): the image is padded with 0xFF to a whole 4 KiB
 * sector, and one more sector follows with the signature block(s), the rest 0xFF. A block (1216 bytes):
 *
 *   0     1    magic 0xE7
 *   1     1    version 0x02 (RSA-PSS)
 *   2     2    zero
 *   4     32   SHA-256 of the padded image (everything before the signature sector)
 *   36    384  RSA modulus n        (little-endian, as the ROM's bignum code reads it)
 *   420   4    RSA exponent e       (little-endian)
 *   424   384  rinv = 2^6144 mod n  (little-endian; precomputed for Montgomery multiplication)
 *   808   4    mdash = -n^-1 mod 2^32
 *   812   384  RSA-PSS signature of the digest (SHA-256, MGF1-SHA-256, 32-byte salt), little-endian
 *   1196  4    CRC-32 of bytes 0..1195
 *   1200  16   zero
 *
 * The device trusts a key by the SHA-256 of bytes 36..811 of its block (n, e, rinv, mdash): Secure Boot V2
 * burns up to three such digests into eFuse; an app verified on update without hardware secure boot trusts
 * the key of its own signature. Signing and verifying here use node's RSA, so a signature is a real one.
 */
import { constants, createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { romCrc32Le } from "./otadata.js";

export const SIG_SECTOR_SIZE = 4096;
export const SIG_BLOCK_SIZE = 1216;
const MAGIC = 0xe7;
const VERSION_RSA = 0x02;
const KEY_BYTES = 384;
const KEY_FIELDS = { start: 36, end: 812 } as const;
const PSS = { saltLength: 32 } as const;

/** Why a signature sector is refused, in the words the check uses. */
export type SignatureProblem = "no signature block" | "bad magic" | "bad CRC" | "digest mismatch" | "signature invalid" | "key not trusted";

export interface SignatureCheck {
  ok: boolean;
  problem?: SignatureProblem;
  /** SHA-256 (hex) of the block's key fields: what eFuse or the running app must hold. */
  keyDigest?: string;
  /** Where the signature sector starts (the padded image's length). */
  sectorOffset: number;
}

const alignUp = (n: number, to: number) => Math.ceil(n / to) * to;

function littleEndian(value: bigint, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = value;
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function fromLittleEndian(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i] ?? 0);
  return v;
}

const fromBase64Url = (text: string) => Buffer.from(text, "base64url");

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return ((oldS % m) + m) % m;
}

/** The image padded with 0xFF to a whole sector: the bytes the digest and the signature cover. */
export function padToSector(image: Uint8Array): Uint8Array {
  const out = new Uint8Array(alignUp(image.length, SIG_SECTOR_SIZE)).fill(0xff);
  out.set(image);
  return out;
}

/** Loads a PEM private key and checks it is RSA-3072, the only size Secure Boot V2's RSA scheme takes. */
export function loadSigningKey(pem: string | Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`not a PEM private key: ${(err as Error).message}`, { cause: err });
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== "rsa" || bits !== 3072) {
    throw new Error(`Secure Boot V2 signs with RSA-3072; this key is ${key.asymmetricKeyType ?? "unknown"}${bits ? `-${bits}` : ""} (make one: openssl genrsa -out key.pem 3072)`);
  }
  return key;
}

/** The image (an app image or anything else) padded and followed by its signature sector. */
export function signImageV2(image: Uint8Array, key: KeyObject): Uint8Array {
  const padded = padToSector(image);
  const jwk = createPublicKey(key).export({ format: "jwk" });
  const n = fromLittleEndian(Uint8Array.from(fromBase64Url(jwk.n ?? "")).reverse());
  const e = Number(fromLittleEndian(Uint8Array.from(fromBase64Url(jwk.e ?? "")).reverse()));
  const block = new Uint8Array(SIG_BLOCK_SIZE);
  const view = new DataView(block.buffer);
  block[0] = MAGIC;
  block[1] = VERSION_RSA;
  block.set(createHash("sha256").update(padded).digest(), 4);
  block.set(littleEndian(n, KEY_BYTES), 36);
  view.setUint32(420, e, true);
  block.set(littleEndian((1n << 6144n) % n, KEY_BYTES), 424);
  view.setUint32(808, Number((1n << 32n) - modInverse(n, 1n << 32n)) >>> 0, true);
  const signature = sign("sha256", padded, { key, padding: constants.RSA_PKCS1_PSS_PADDING, ...PSS });
  block.set(Uint8Array.from(signature).reverse(), 812);
  view.setUint32(1196, romCrc32Le(0, block.subarray(0, 1196)), true);
  const sector = new Uint8Array(SIG_SECTOR_SIZE).fill(0xff);
  sector.set(block);
  const out = new Uint8Array(padded.length + SIG_SECTOR_SIZE);
  out.set(padded);
  out.set(sector, padded.length);
  return out;
}

/**
 * Checks the signature sector that follows an image of `imageLength` bytes (its length as the image header
 * says, appended hash included) in `bytes` (the slot, or a file). With `trusted` key digests, a valid
 * signature by another key is "key not trusted".
 */
export function checkSignatureV2(bytes: Uint8Array, imageLength: number, trusted?: readonly string[]): SignatureCheck {
  const { sectorOffset, block, problem } = signatureBlock(bytes, imageLength);
  if (problem) return { ok: false, problem, sectorOffset };
  const view = new DataView(block.buffer, block.byteOffset, block.length);
  if (view.getUint32(1196, true) !== romCrc32Le(0, block.subarray(0, 1196))) return { ok: false, problem: "bad CRC", sectorOffset };
  const keyDigest = createHash("sha256").update(block.subarray(KEY_FIELDS.start, KEY_FIELDS.end)).digest("hex");
  // what the device hashes: the bytes before the signature sector as they are, padding included
  const padded = bytes.subarray(0, sectorOffset);
  const digest = createHash("sha256").update(padded).digest();
  if (!digest.equals(Buffer.from(block.subarray(4, 36)))) return { ok: false, problem: "digest mismatch", keyDigest, sectorOffset };
  const n = fromLittleEndian(block.subarray(36, 420));
  const e = view.getUint32(420, true);
  let valid = false;
  try {
    const key = createPublicKey({ key: { kty: "RSA", n: bigEndianBase64Url(n), e: bigEndianBase64Url(BigInt(e)) }, format: "jwk" });
    valid = verify("sha256", padded, { key, padding: constants.RSA_PKCS1_PSS_PADDING, ...PSS }, Uint8Array.from(block.subarray(812, 1196)).reverse());
  } catch {
    valid = false;
  }
  if (!valid) return { ok: false, problem: "signature invalid", keyDigest, sectorOffset };
  if (trusted !== undefined && !trusted.includes(keyDigest)) return { ok: false, problem: "key not trusted", keyDigest, sectorOffset };
  return { ok: true, keyDigest, sectorOffset };
}

/** Where the signature sector after an image of `imageLength` bytes starts, and its first block unless none is there. */
function signatureBlock(bytes: Uint8Array, imageLength: number): { sectorOffset: number; block: Uint8Array; problem?: "no signature block" | "bad magic" } {
  const sectorOffset = alignUp(imageLength, SIG_SECTOR_SIZE);
  const block = bytes.subarray(sectorOffset, sectorOffset + SIG_BLOCK_SIZE);
  if (block.length < SIG_BLOCK_SIZE || block.every((b) => b === 0xff)) return { sectorOffset, block, problem: "no signature block" };
  if (block[0] !== MAGIC || block[1] !== VERSION_RSA) return { sectorOffset, block, problem: "bad magic" };
  return { sectorOffset, block };
}

/**
 * The image without its signature sector (and without the padding before it): what an unsigned build looks
 * like. Undefined when no block is there; a block is taken off whether or not it verifies.
 */
export function stripSignatureV2(bytes: Uint8Array, imageLength: number): Uint8Array | undefined {
  return signatureBlock(bytes, imageLength).problem ? undefined : bytes.slice(0, imageLength);
}

function bigEndianBase64Url(value: bigint): string {
  const bytes: number[] = [];
  let v = value;
  while (v > 0n) {
    bytes.unshift(Number(v & 0xffn));
    v >>= 8n;
  }
  return Buffer.from(bytes.length ? bytes : [0]).toString("base64url");
}
