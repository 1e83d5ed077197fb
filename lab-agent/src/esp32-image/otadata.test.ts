import { crc32 } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  OTA_STATES,
  activeOtadataIndex,
  buildOtadata,
  decodeOtaSelectEntry,
  describeOtaEntry,
  encodeOtaSelectEntry,
  nextOtaSelect,
  otaSelectCrc,
  otaSlotForSeq,
  readOtadata,
  romCrc32Le,
} from "./otadata.js";

const entries = (a?: { seq: number; state: number }, b?: { seq: number; state: number }) => readOtadata(buildOtadata([a, b]));

test("crc is the ROM's crc32_le(0xFFFFFFFF, &ota_seq, 4): known values, and zlib's crc32 continued from 0xFFFFFFFF", () => {
  // values a real board's otadata holds for seq 1, 2, 3
  assert.equal([1, 2, 3].map(otaSelectCrc), [0x4743989a, 0x55f63774, 0xed4a5011]);
  for (const seq of [1, 2, 7, 0x12345678, 0xfffffffe]) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(seq);
    assert.is(otaSelectCrc(seq), crc32(b, 0xffffffff) >>> 0, `seq ${seq}`);
  }
  // the ROM convention differs from a plain CRC-32 (zlib's crc32 from 0)
  assert.is.not(romCrc32Le(0xffffffff, Uint8Array.of(1, 0, 0, 0)), crc32(Buffer.of(1, 0, 0, 0)) >>> 0);
});

test("an entry is 32 little-endian bytes: seq, 20 label bytes left erased, state, crc", () => {
  const bytes = encodeOtaSelectEntry({ seq: 2, state: OTA_STATES.NEW });
  assert.equal(Array.from(bytes), [2, 0, 0, 0, ...new Array(20).fill(0xff), 0, 0, 0, 0, 0x74, 0x37, 0xf6, 0x55]);
  const back = decodeOtaSelectEntry(bytes, 1);
  assert.equal([back.seq, back.stateName, back.crcOk, back.valid, back.index], [2, "NEW", true, true, 1]);
  assert.is(describeOtaEntry(back), "otadata[1]: seq 2 NEW (crc ok)");
  assert.is(describeOtaEntry(decodeOtaSelectEntry(new Uint8Array(32).fill(0xff), 0)), "otadata[0]: erased");
});

test("the partition image: entries at 0x0 and 0x1000, everything else erased", () => {
  const img = buildOtadata([{ seq: 1, state: OTA_STATES.VALID }, { seq: 2, state: OTA_STATES.PENDING_VERIFY }]);
  assert.is(img.length, 0x2000);
  assert.ok(img.subarray(32, 0x1000).every((b) => b === 0xff));
  assert.ok(img.subarray(0x1020).every((b) => b === 0xff));
  const [a, b] = readOtadata(img);
  assert.equal([a.seq, a.stateName, b.seq, b.stateName], [1, "VALID", 2, "PENDING_VERIFY"]);
});

test("slot choice: highest valid seq wins; ABORTED, INVALID, erased and bad-CRC entries never do", () => {
  assert.is(activeOtadataIndex(entries()), -1);
  assert.is(activeOtadataIndex(entries({ seq: 1, state: OTA_STATES.VALID })), 0);
  assert.is(activeOtadataIndex(entries({ seq: 1, state: OTA_STATES.VALID }, { seq: 2, state: OTA_STATES.NEW })), 1);
  assert.is(activeOtadataIndex(entries({ seq: 3, state: OTA_STATES.ABORTED }, { seq: 2, state: OTA_STATES.VALID })), 1);
  assert.is(activeOtadataIndex(entries({ seq: 3, state: OTA_STATES.INVALID }, { seq: 2, state: OTA_STATES.VALID })), 1);
  // UNDEFINED (rollback disabled) still counts as valid
  assert.is(activeOtadataIndex(entries({ seq: 5, state: OTA_STATES.UNDEFINED }, { seq: 2, state: OTA_STATES.VALID })), 0);
  const badCrc = buildOtadata([{ seq: 2, state: OTA_STATES.VALID }]);
  badCrc.set(encodeOtaSelectEntry({ seq: 4, state: OTA_STATES.VALID, crc: 0x1234 }), 0x1000);
  const read = readOtadata(badCrc);
  assert.equal([read[1].crcOk, read[1].valid, activeOtadataIndex(read)], [false, false, 0]);
  assert.equal([1, 2, 3, 4, 5].map((s) => otaSlotForSeq(s, 2)), [0, 1, 0, 1, 0]);
  assert.equal([1, 2, 3, 4].map((s) => otaSlotForSeq(s, 3)), [0, 1, 2, 0]);
});

test("esp_ota_set_boot_partition's next seq goes into the sector that is not active", () => {
  // erased: slot + 1 into otadata[0]
  assert.equal(nextOtaSelect(entries(), 1, 2), { index: 0, seq: 2 });
  // running seq 1 (ota_0) → ota_1: seq 2 in otadata[1]
  assert.equal(nextOtaSelect(entries({ seq: 1, state: OTA_STATES.VALID }), 1, 2), { index: 1, seq: 2 });
  // running seq 2 (ota_1) → ota_0: seq 3 in otadata[0]
  assert.equal(nextOtaSelect(entries({ seq: 1, state: OTA_STATES.VALID }, { seq: 2, state: OTA_STATES.VALID }), 0, 2), { index: 0, seq: 3 });
  // after a rollback (seq 3 ABORTED, seq 2 active) → ota_0 again: seq 3 once more, over the aborted entry
  assert.equal(nextOtaSelect(entries({ seq: 3, state: OTA_STATES.ABORTED }, { seq: 2, state: OTA_STATES.VALID }), 0, 2), { index: 0, seq: 3 });
  // three slots, running seq 5 (slot 1) → slot 0: seq 7
  assert.equal(nextOtaSelect(entries({ seq: 5, state: OTA_STATES.VALID }), 0, 3), { index: 1, seq: 7 });
});

test.run();
