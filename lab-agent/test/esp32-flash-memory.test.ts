import { LabError, LinkClosedError } from "@hil/contracts";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { Esp32FlashDriver, type FlashProgress } from "../src/drivers/esp32/esp32-flash-driver.js";
import { buildEsp32Image } from "../src/esp32-image/image-writer.js";
import { buildPartitionTable, SINGLE_APP_TABLE } from "../src/esp32-image/partition-table.js";
import { MemoryLink } from "../src/links/memory-link.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { CountingDevice, random, same, VIRTUAL_PROFILE } from "./esp32-flash-fixtures.js";

function rig(opts: { mac?: string } = {}) {
  const board = new VirtualEsp32({ id: "flash-0", mac: opts.mac ?? "24:0a:c4:00:00:01" });
  board.reset("run");
  const counter = new CountingDevice(board);
  const link = new MemoryLink(counter, { path: "memory:flash-0" });
  return { board, counter, link };
}

async function expectError(p: Promise<unknown>): Promise<LabError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, LabError);
    return err as LabError;
  }
  throw new Error("expected the flash to fail");
}

test("flashes bootloader, partition table and app at their offsets, verified, then boots the app; second flash skips", async () => {
  const { board, link } = rig();
  const bootloader = buildEsp32Image({ appDesc: null, padTo: 0x4000 });
  const table = buildPartitionTable(SINGLE_APP_TABLE);
  const app = buildEsp32Image({ padTo: 256 * 1024, padSeed: 1 });
  const images = [
    { data: bootloader, offset: 0x1000, name: "bootloader" },
    { data: table, offset: 0x8000, name: "partition-table" },
    { data: app, offset: 0x10000, name: "app" },
  ];
  const progress: FlashProgress[] = [];
  try {
    const driver = new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE, expectedMac: "24:0a:c4:00:00:01" });
    const report = await driver.flash(images, { onProgress: (p) => progress.push(p) });
    assert.is(report.chip, "ESP32");
    assert.is(report.mac, "24:0a:c4:00:00:01");
    assert.is(report.alreadyFlashed, false);
    assert.is(report.bytesWritten, bootloader.length + table.length + app.length);
    for (const img of images) assert.ok(same(board.flash.subarray(img.offset, img.offset + img.data.length), img.data), `${img.name} bytes differ on the board`);
    assert.ok(progress.some((p) => p.image === 2 && p.written === p.total && p.total === app.length), "progress reaches the end of the app");
    assert.is(board.stubStarts, 1);
    await waitUntil("the driver resets the board into its app", () => board.mode === "app", 5000);

    const again = await driver.flash(images);
    assert.is(again.alreadyFlashed, true);
    assert.ok(again.images.every((i) => i.skipped));
    assert.is(again.bytesWritten, 0);
    assert.is(board.stubStarts, 1, "the skip path needs no stub upload");
    await waitUntil("back in the app after the skip", () => board.mode === "app", 5000);
  } finally {
    await link.close();
    board.dispose();
  }
});

test("only the changed image is rewritten", async () => {
  const { board, link } = rig();
  try {
    const driver = new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE });
    const table = buildPartitionTable(SINGLE_APP_TABLE);
    await driver.flash([{ data: table, offset: 0x8000 }, { data: buildEsp32Image({ padTo: 64 * 1024, padSeed: 1 }), offset: 0x10000 }]);
    const app2 = buildEsp32Image({ padTo: 64 * 1024, padSeed: 2 });
    const r = await driver.flash([{ data: table, offset: 0x8000 }, { data: app2, offset: 0x10000 }]);
    assert.equal(
      r.images.map((i) => i.skipped),
      [true, false],
    );
    assert.ok(same(board.flash.subarray(0x10000, 0x10000 + app2.length), app2));
  } finally {
    await link.close();
    board.dispose();
  }
});

test("a merged image at 0x1000 is flashed as one region", async () => {
  const { board, link } = rig();
  try {
    const merged = new Uint8Array(0x10000 - 0x1000 + 64 * 1024).fill(0xff);
    merged.set(buildEsp32Image({ appDesc: null }), 0);
    merged.set(buildPartitionTable(SINGLE_APP_TABLE), 0x8000 - 0x1000);
    merged.set(buildEsp32Image({ padTo: 32 * 1024 }), 0x10000 - 0x1000);
    const r = await new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE }).flash([{ data: merged, offset: 0x1000 }]);
    assert.is(r.images.length, 1);
    assert.ok(same(board.flash.subarray(0x1000, 0x1000 + merged.length), merged));
  } finally {
    await link.close();
    board.dispose();
  }
});

test("corrupt, ESP32-S3 and too-large images are refused before a single byte reaches the board", async () => {
  const { board, counter, link } = rig();
  const corrupt = buildEsp32Image({ padTo: 32 * 1024 });
  corrupt[100] = corrupt[100]! ^ 0x5a;
  const notAnImage = random(4096);
  notAnImage[0] = 0x00; // never the 0xE9 magic by chance
  const cases: [string, Uint8Array, RegExp][] = [
    ["corrupt", corrupt, /checksum|hash/i],
    ["esp32-s3", buildEsp32Image({ chip: "esp32s3" }), /ESP32-S3/],
    ["too large", buildEsp32Image({ padTo: 4 * 1024 * 1024 }), /does not fit/],
    ["not an image at the app offset", notAnImage, /magic|not an ESP32 app image/i],
  ];
  try {
    const driver = new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE });
    for (const [what, data, reason] of cases) {
      const err = await expectError(driver.flash([{ data, offset: 0x10000, name: what }]));
      assert.is(err.code, "IMAGE_INVALID", what);
      assert.match(err.message, reason, `${what}: ${err.message}`);
      assert.match(err.message, /nothing was written/);
    }
    const unaligned = await expectError(driver.flash([{ data: random(100), offset: 0x8010, kind: "raw" }]));
    assert.match(unaligned.message, /0x1000/);
    assert.is(counter.bytes, 0, "no byte was sent to the board");
    assert.is(counter.signals, 0, "the board was not even reset");
    assert.is(board.mode, "app");
  } finally {
    await link.close();
    board.dispose();
  }
});

test("a MAC other than the expected one is refused before writing", async () => {
  const { board, link } = rig({ mac: "24:0a:c4:00:00:02" });
  try {
    const before = board.flash.slice(0x10000, 0x20000);
    const driver = new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE, expectedMac: "24:0a:c4:00:00:01" });
    const err = await expectError(driver.flash([{ data: buildEsp32Image({ padTo: 32 * 1024 }), offset: 0x10000 }]));
    assert.is(err.code, "IDENTITY_MISMATCH");
    assert.match(err.message, /24:0a:c4:00:00:02/);
    assert.is(board.stubStarts, 0);
    assert.ok(same(board.flash.subarray(0x10000, 0x20000), before));
    assert.is(await driver.readMac(), "24:0a:c4:00:00:02");
    await waitUntil("back in the app after readMac", () => board.mode === "app", 5000);
  } finally {
    await link.close();
    board.dispose();
  }
});

test("a profile for another chip is refused once the loader names the chip", async () => {
  const { board, link } = rig();
  try {
    const driver = new Esp32FlashDriver({ link, profile: { ...VIRTUAL_PROFILE, chip: "esp32s3", flash: { ...VIRTUAL_PROFILE.flash, bootloaderOffset: 0 } } });
    const err = await expectError(driver.flash([{ data: buildEsp32Image({ chip: "esp32s3" }), offset: 0x10000 }]));
    assert.is(err.code, "IDENTITY_MISMATCH");
    assert.is(board.stubStarts, 0);
  } finally {
    await link.close();
    board.dispose();
  }
});

test("unplugging mid-flash ends with LinkClosedError 'link closed during flash', promptly", async () => {
  const board = new VirtualEsp32({ id: "flash-1", pace: true });
  board.reset("run");
  const link = new MemoryLink(board, { path: "memory:flash-1" });
  try {
    const driver = new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE });
    let severed = false;
    const err = await expectError(
      driver.flash([{ data: random(1024 * 1024), offset: 0x10000, kind: "raw" }], {
        onProgress: (p) => {
          if (!severed && p.written > 0) {
            severed = true;
            link.sever();
          }
        },
      }),
    );
    assert.ok(severed, "the flash got far enough to be interrupted");
    assert.instance(err, LinkClosedError);
    assert.is(err.code, "LINK_CLOSED");
    assert.ok(err.infra, "an unplug is an infrastructure failure");
    assert.match(err.message, /link closed during flash/);
  } finally {
    await link.close();
    board.dispose();
  }
});

test("sync failure on a silent board is SYNC_FAILED (infrastructure), not a test failure", async () => {
  const board = new VirtualEsp32({ id: "flash-2" });
  board.unplug(); // answers nothing
  const link = new MemoryLink(board, { path: "memory:flash-2" });
  try {
    const driver = new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE, connectAttempts: 1 });
    const err = await expectError(driver.flash([{ data: random(4096), offset: 0x10000, kind: "raw" }]));
    assert.is(err.code, "SYNC_FAILED");
    assert.ok(err.infra);
  } finally {
    await link.close();
    board.dispose();
  }
});

test.run();
