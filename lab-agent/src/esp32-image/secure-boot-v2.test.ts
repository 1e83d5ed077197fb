// Secure Boot V2 signatures made and checked with node's RSA: the block's layout (offsets, little-endian
// fields, the CRC), the key digest, and each way a sector is refused: none, a flipped image byte, a flipped
// signature byte, a broken CRC, another key.
import { createHash, generateKeyPairSync } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildEsp32Image } from "./image-writer.js";
import { readEsp32Image } from "./image-reader.js";
import { romCrc32Le } from "./otadata.js";
import { checkSignatureV2, loadSigningKey, SIG_SECTOR_SIZE, signImageV2, stripSignatureV2 } from "./secure-boot-v2.js";

const pem = (bits: number) => generateKeyPairSync("rsa", { modulusLength: bits }).privateKey.export({ type: "pkcs8", format: "pem" }) as string;
const key = loadSigningKey(pem(3072));
const other = loadSigningKey(pem(3072));
const image = buildEsp32Image({ appDesc: { projectName: "signed", version: "1.0.0" }, scenario: { kind: "ota" }, padTo: 40_000 });
const length = readEsp32Image(image).imageLength;

test("a signed image: padded with 0xFF to a sector, then a sector holding the block; the block's fields where ESP-IDF reads them", () => {
  const signed = signImageV2(image, key);
  const sector = Math.ceil(image.length / SIG_SECTOR_SIZE) * SIG_SECTOR_SIZE;
  assert.is(signed.length, sector + SIG_SECTOR_SIZE);
  assert.ok(signed.subarray(image.length, sector).every((b) => b === 0xff), "0xFF up to the signature sector");
  const block = signed.subarray(sector, sector + 1216);
  assert.equal([block[0], block[1], block[2], block[3]], [0xe7, 0x02, 0, 0]);
  assert.equal(Buffer.from(block.subarray(4, 36)), createHash("sha256").update(signed.subarray(0, sector)).digest());
  const view = new DataView(block.buffer, block.byteOffset, 1216);
  assert.is(view.getUint32(420, true), 65537, "e, little-endian");
  assert.is(view.getUint32(1196, true), romCrc32Le(0, block.subarray(0, 1196)));
  assert.ok(block.subarray(1200).every((b) => b === 0) && signed.subarray(sector + 1216).every((b) => b === 0xff));
  // n little-endian: its top byte (bit 3071 set) is the last of the 384
  assert.ok((block[36 + 383] ?? 0) >= 0x80);
  // mdash * n ≡ -1 (mod 2^32)
  const n0 = view.getUint32(36, true);
  assert.is(Number((BigInt(view.getUint32(808, true)) * BigInt(n0)) % (1n << 32n)), 0xffffffff);
  const check = checkSignatureV2(signed, length);
  assert.equal([check.ok, check.sectorOffset], [true, sector]);
  assert.is(check.keyDigest, createHash("sha256").update(block.subarray(36, 812)).digest("hex"));
});

test("refused: no block, a changed image byte, a changed signature byte, a broken CRC, a key not trusted", () => {
  const signed = signImageV2(image, key);
  const sector = checkSignatureV2(signed, length).sectorOffset;
  const trusted = [checkSignatureV2(signed, length).keyDigest ?? ""];
  assert.is(checkSignatureV2(image, length).problem, "no signature block");
  const flip = (at: number) => {
    const copy = signed.slice();
    copy[at] = (copy[at] ?? 0) ^ 0x01;
    return copy;
  };
  assert.is(checkSignatureV2(flip(100), length).problem, "digest mismatch");
  // a changed signature byte with the CRC made right again: only RSA-PSS can tell
  const badSig = flip(sector + 900);
  new DataView(badSig.buffer).setUint32(sector + 1196, romCrc32Le(0, badSig.subarray(sector, sector + 1196)), true);
  assert.is(checkSignatureV2(badSig, length).problem, "signature invalid");
  assert.is(checkSignatureV2(flip(sector + 900), length).problem, "bad CRC");
  assert.is(checkSignatureV2(flip(sector), length).problem, "bad magic");
  assert.ok(checkSignatureV2(signed, length, trusted).ok);
  assert.is(checkSignatureV2(signImageV2(image, other), length, trusted).problem, "key not trusted");
});

test("stripping gives back the unsigned image; an unsigned one has nothing to strip", () => {
  assert.equal(stripSignatureV2(signImageV2(image, key), length), image.slice(0, length));
  assert.is(stripSignatureV2(image, length), undefined);
});

test("only RSA-3072 keys sign", () => {
  assert.throws(() => loadSigningKey(pem(2048)), /RSA-3072; this key is rsa-2048/);
  assert.throws(() => loadSigningKey("not a key"), /not a PEM private key/);
});

test.run();
