import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  CHIP_IDS,
  buildEsp32Image,
  buildPartitionTable,
  readEsp32Image,
  readPartitionTable,
  SINGLE_APP_TABLE,
  validateImageForFlash,
} from "../src/esp32-image/index.js";

function flip(bytes: Uint8Array, at: number, mask: number): void {
  bytes[at] = (bytes[at] ?? 0) ^ mask;
}

const APP = { projectName: "blink", version: "2.3.4", idfVersion: "v5.2.1", date: "Mar  1 2025", time: "08:15:00", secureVersion: 2 };

test("round trip: built image reads back valid with the same fields", () => {
  const image = buildEsp32Image({ appDesc: APP, flashMode: "qio", flashFreq: "80m", flashSize: "8MB", entry: 0x40081234 });
  const info = readEsp32Image(image);
  assert.equal(info.problems, []);
  assert.ok(info.ok);
  assert.is(info.magic, 0xe9);
  assert.is(info.chip, "esp32");
  assert.is(info.chipId, 0);
  assert.is(info.flashMode, "qio");
  assert.is(info.flashFreq, "80m");
  assert.is(info.flashSize, "8MB");
  assert.is(info.entry, 0x40081234);
  assert.is(info.segmentCount, 3);
  assert.is(info.segments[0]?.address, 0x3f400020);
  assert.is(info.segments[0]?.fileOffset, 0x20);
  assert.ok(info.checksum.valid);
  assert.ok(info.hash?.valid);
  assert.is(info.imageLength, image.length);
  assert.is(image.length % 16, 0);
  assert.is(info.appDesc?.projectName, "blink");
  assert.is(info.appDesc?.version, "2.3.4");
  assert.is(info.appDesc?.idfVersion, "v5.2.1");
  assert.is(info.appDesc?.date, "Mar  1 2025");
  assert.is(info.appDesc?.time, "08:15:00");
  assert.is(info.appDesc?.secureVersion, 2);
});

test("round trip: other chip, no hash, embedded scenario, user segments needing MMU padding", () => {
  const s3 = readEsp32Image(buildEsp32Image({ chip: "esp32s3", appDesc: APP }));
  assert.ok(s3.ok);
  assert.is(s3.chip, "esp32s3");
  assert.is(s3.chipId, CHIP_IDS.esp32s3);

  const noHash = readEsp32Image(buildEsp32Image({ appendHash: false, appDesc: APP }));
  assert.ok(noHash.ok);
  assert.is(noHash.hash, undefined);

  const withScenario = readEsp32Image(buildEsp32Image({ appDesc: APP, scenario: { kind: "panic", afterMs: 50 } }));
  assert.ok(withScenario.ok);
  assert.is(withScenario.scenario?.kind, "panic");
  assert.is(withScenario.appDesc?.projectName, "blink");

  const irom = readEsp32Image(buildEsp32Image({ appDesc: APP, segments: [{ address: 0x400d0020, data: new Uint8Array(40).fill(7) }] }));
  assert.equal(irom.problems, []);
  const mapped = irom.segments.find((s) => s.address === 0x400d0020);
  assert.ok(mapped);
  assert.is(mapped.fileOffset % 0x10000, 0x20);
});

test("padTo makes an exact-size valid image", () => {
  const image = buildEsp32Image({ appDesc: APP, padTo: 1024 * 1024 });
  assert.is(image.length, 1024 * 1024);
  const info = readEsp32Image(image);
  assert.equal(info.problems, []);
  assert.is(info.appDesc?.version, "2.3.4");
});

test("corruption: bad magic is named", () => {
  const image = buildEsp32Image({ appDesc: APP });
  image[0] = 0x12;
  const info = readEsp32Image(image);
  assert.not.ok(info.ok);
  assert.equal(info.problems, ["invalid magic byte 0x12 (expected 0xe9): not an ESP32 app image"]);
  const erased = readEsp32Image(new Uint8Array(4096).fill(0xff));
  assert.match(erased.problems[0] ?? "", "invalid magic byte 0xff");
  assert.match(erased.problems[0] ?? "", "nothing flashed here?");
});

test("corruption: a flipped data byte fails the checksum (with both values), a flipped header byte the hash", () => {
  const good = buildEsp32Image({ appDesc: APP });
  const info0 = readEsp32Image(good);
  const seg = info0.segments[1];
  assert.ok(seg);
  const flipped = good.slice();
  flip(flipped, seg.fileOffset + 3, 0x01);
  const info = readEsp32Image(flipped);
  const stored = info0.checksum.stored ?? -1;
  const calc = stored ^ 0x01;
  assert.ok(info.problems.includes(`checksum failed: calculated 0x${calc.toString(16).padStart(2, "0")}, stored 0x${stored.toString(16).padStart(2, "0")}`), info.problems.join("\n"));
  assert.ok(info.problems.some((p) => p.startsWith("validation hash failed")));

  const header = good.slice();
  flip(header, 4, 0x40); // entry address
  const hinfo = readEsp32Image(header);
  assert.ok(hinfo.checksum.valid);
  assert.is(hinfo.problems.length, 1);
  assert.match(hinfo.problems[0] ?? "", /^validation hash failed: calculated [0-9a-f]{64}, stored [0-9a-f]{64}: image is corrupt$/);
});

test("corruption: truncated segment, segment count beyond the file, bad segment length, too short", () => {
  const good = buildEsp32Image({ appDesc: APP });
  const info0 = readEsp32Image(good);
  const last = info0.segments[2];
  assert.ok(last);
  const cut = readEsp32Image(good.subarray(0, last.fileOffset + 8));
  assert.match(cut.problems[0] ?? "", /^segment 2 \(load address 0x40080000\) needs 0x80 bytes at offset 0x[0-9a-f]+ but only 0x8 remain: file truncated$/);

  const more = good.slice(0, last.fileOffset + last.length);
  more[1] = 4;
  assert.equal(readEsp32Image(more).problems, [
    `segment 3 header at offset 0x${more.length.toString(16)} is past the end of the file (0x${more.length.toString(16)} bytes): the header claims 4 segments but the file holds 3`,
  ]);

  const many = good.slice();
  many[1] = 40;
  assert.equal(readEsp32Image(many).problems, ["segment count 40 exceeds max 16"]);

  const badLen = good.slice();
  new DataView(badLen.buffer).setUint32(0x18 + 4, 0x103, true);
  assert.equal(readEsp32Image(badLen).problems, ["segment 0 has invalid length 0x103 (must be a multiple of 4 and under 16 MiB)"]);

  assert.match(readEsp32Image(new Uint8Array(10)).problems[0] ?? "", "shorter than the 24-byte image header");
});

test("validateImageForFlash: chip mismatch, fit, alignment, raw data", () => {
  const s3 = buildEsp32Image({ chip: "esp32s3", appDesc: APP });
  const board = { chip: "esp32" as const, flashSize: 4 * 1024 * 1024 };
  assert.ok(validateImageForFlash(s3, { ...board, offset: 0x10000 }).some((p) => p.startsWith("image is for ESP32-S3 (chip id 9), board is ESP32")));
  const good = buildEsp32Image({ appDesc: APP });
  assert.equal(validateImageForFlash(good, { ...board, offset: 0x10000 }), []);
  assert.ok(validateImageForFlash(good, { ...board, offset: 0x3ff000 + 0x1000 - 16 }).some((p) => p.startsWith("offset 0x3ffff0 is not a multiple of 4 KiB")));
  const big = buildEsp32Image({ appDesc: APP, padTo: 0x2000 });
  assert.ok(validateImageForFlash(big, { ...board, offset: 0x3ff000 }).some((p) => p.startsWith("image does not fit: 8192 bytes at 0x3ff000")));
  const table = buildPartitionTable(SINGLE_APP_TABLE);
  assert.equal(validateImageForFlash(table, { ...board, offset: 0x8000, kind: "raw" }), []);
  assert.match(validateImageForFlash(table, { ...board, offset: 0x8000 })[0] ?? "", 'flash it as kind "raw"');
  const flipped = good.slice();
  flip(flipped, 0x40, 0xff);
  assert.ok(validateImageForFlash(flipped, { ...board, offset: 0x10000 }).some((p) => p.startsWith("checksum failed")));
});

test("validateImageForFlash: app offsets on 64 KiB pages, unknown chip ids, empty files", () => {
  const board = { chip: "esp32" as const, flashSize: 4 * 1024 * 1024 };
  const good = buildEsp32Image({ appDesc: APP });
  assert.ok(validateImageForFlash(good, { ...board, offset: 0x11000 }).some((p) => p.startsWith("app images must start on a 64 KiB boundary")));
  assert.equal(validateImageForFlash(good, { ...board, offset: 0x11000, kind: "raw" }), []);
  const odd = good.slice();
  new DataView(odd.buffer).setUint16(12, 77, true);
  const problems = validateImageForFlash(odd, { ...board, offset: 0x10000 });
  assert.ok(problems.some((p) => p.startsWith("image is for an unknown chip (chip id 77), board is ESP32")), problems.join("\n"));
  assert.ok(readEsp32Image(odd).problems.includes("unknown chip id 77 in the header: no ESP32-family chip runs this image"));
  assert.equal(validateImageForFlash(new Uint8Array(0), { ...board, offset: 0x10000 }), ["image is empty: nothing to flash"]);
});

test("a damaged embedded scenario is reported beside the checksum failure", () => {
  const image = buildEsp32Image({ appDesc: APP, scenario: { kind: "logger" } });
  const info = readEsp32Image(image);
  const seg = info.segments[0];
  assert.ok(seg);
  // first byte of the JSON after the 256-byte app description, 8-byte marker and u32 length
  const broken = image.slice();
  broken[seg.fileOffset + 256 + 12] = 0x21;
  const fixed = readEsp32Image(broken);
  assert.is(fixed.scenario, undefined);
  assert.match(fixed.scenarioProblem ?? "", "embedded scenario is not JSON");
  assert.ok(fixed.problems.some((p) => p.startsWith("checksum failed")));
});

test("partition table round trip with MD5, and damage is reported", () => {
  const table = buildPartitionTable([...SINGLE_APP_TABLE, { label: "ota_0", type: "app", subtype: "ota_0", offset: 0x110000, size: 0x100000 }]);
  const info = readPartitionTable(table);
  assert.equal(info.problems, []);
  assert.is(info.entries.length, 4);
  assert.equal(
    info.entries.map((e) => [e.label, e.typeName, e.subtypeName, e.offset, e.size]),
    [
      ["nvs", "data", "nvs", 0x9000, 0x6000],
      ["phy_init", "data", "phy", 0xf000, 0x1000],
      ["factory", "app", "factory", 0x10000, 0x100000],
      ["ota_0", "app", "ota_0", 0x110000, 0x100000],
    ],
  );
  assert.ok(info.md5?.valid);
  const damaged = table.slice();
  flip(damaged, 0x20 + 4, 1);
  assert.match(readPartitionTable(damaged).problems[0] ?? "", "partition table MD5 mismatch");
  assert.equal(readPartitionTable(buildPartitionTable(SINGLE_APP_TABLE, { md5: false })).problems, []);
  assert.match(readPartitionTable(new Uint8Array(0xc00).fill(0xff)).problems[0] ?? "", "no partition table");
});

test.run();
