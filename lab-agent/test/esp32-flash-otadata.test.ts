// The flash driver's otadata reset at the protocol level: the board's partition table is read through the ROM
// loader (READ_FLASH_SLOW, no stub upload), a blank otadata costs nothing more than one MD5, a stale one is
// written blank. esptool-js against VirtualEsp32 over a MemoryLink.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { Esp32FlashDriver } from "../src/drivers/esp32/esp32-flash-driver.js";
import { planOtadataReset, tableInImages } from "../src/drivers/esp32/otadata-reset.js";
import { buildEsp32Image } from "../src/esp32-image/image-writer.js";
import { buildOtadata } from "../src/esp32-image/otadata.js";
import { buildPartitionTable, OTA_ONLY_TABLE, TWO_OTA_TABLE } from "../src/esp32-image/partition-table.js";
import { MemoryLink } from "../src/links/memory-link.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { VIRTUAL_PROFILE } from "./esp32-flash-fixtures.js";

const app = buildEsp32Image({ padTo: 64 * 1024, padSeed: 7 });

test("the board's table read in ROM: a stale otadata is blanked; when already blank the flash is a no-op without the stub", async () => {
  const board = new VirtualEsp32({ id: "otad-0", mac: "24:0a:c4:00:00:07" });
  board.flashMemory.load(0x8000, buildPartitionTable(OTA_ONLY_TABLE));
  board.flashMemory.load(0x10000, app);
  board.flashMemory.load(0xd000, buildOtadata([undefined, { seq: 2, state: 2 }]));
  board.reset("run");
  const link = new MemoryLink(board, { path: "memory:otad-0" });
  const logs: string[] = [];
  try {
    const driver = new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE, logger: (m) => logs.push(m) });
    const first = await driver.flash([{ data: app, offset: 0x10000, name: "app" }], { otadata: "reset" });
    assert.equal(first.otadata, { action: "reset", summary: "reset at 0xd000 (0x2000 bytes)", offset: 0xd000, size: 0x2000 });
    assert.equal(first.images.map((i) => [i.name, i.skipped]), [["app", true], ["otadata (reset)", false]]);
    assert.not.ok(logs.some((l) => /READ_FLASH_SLOW .* failed/.test(l)), logs.join("\n"));
    // the bootloader found otadata blank, booted ota_0 and wrote "ota_seq=1" into otadata[0]; the stale entry is gone
    await waitUntil("the bootloader records ota_0 in otadata", () => board.flashMemory.read(0xd000, 4).some((b) => b !== 0xff), 10_000);
    assert.is(Buffer.from(board.flashMemory.read(0xd000, 4)).readUInt32LE(0), 1);
    assert.ok(board.flashMemory.read(0xe000, 0x1000).every((b) => b === 0xff), "the ota_1 entry was erased");

    // blank it again, as a fresh board has it
    board.flashMemory.eraseRange(0xd000, 0x2000);
    const stubsBefore = board.stubStarts;
    const again = await driver.flash([{ data: app, offset: 0x10000, name: "app" }], { otadata: "reset" });
    assert.is(again.alreadyFlashed, true);
    assert.is(again.otadata?.action, "blank");
    assert.is(board.stubStarts, stubsBefore, "no stub upload to read the table or to skip");

    const kept = await driver.flash([{ data: app, offset: 0x10000, name: "app" }], { otadata: "keep" });
    assert.equal(kept.otadata, { action: "kept", summary: "kept (otadata: keep)" });
    assert.equal(kept.images.length, 1);
  } finally {
    await link.close();
    board.dispose();
  }
});

test("which images get otadata blanked: only those starting an app partition, and not when an image covers otadata", () => {
  const table = buildPartitionTable(TWO_OTA_TABLE);
  const plan = (images: { data: Uint8Array; offset: number; name?: string }[]) => {
    const p = planOtadataReset(images, table, "test");
    return "image" in p ? `blank 0x${p.image.offset.toString(16)}+0x${p.image.data.length.toString(16)}` : p.outcome.summary;
  };
  assert.is(plan([{ data: app, offset: 0x10000 }]), "blank 0xd000+0x2000");
  assert.is(plan([{ data: app, offset: 0x210000 }]), "blank 0xd000+0x2000");
  assert.is(plan([{ data: new Uint8Array(0x1000), offset: 0x9000, name: "nvs" }]), "none: no image starts an app partition");
  assert.is(plan([{ data: app, offset: 0x10000 }, { data: new Uint8Array(0x2000).fill(0xff), offset: 0xd000, name: "ota_data_initial.bin" }]), "written by ota_data_initial.bin at 0xd000");
  // a merged image from 0x1000: its table is found inside it, and it covers otadata itself
  const merged = new Uint8Array(0x20000).fill(0xff);
  merged.set(table, 0x7000);
  assert.equal(tableInImages([{ data: merged, offset: 0x1000 }], 0x8000)?.subarray(0, 32), table.subarray(0, 32));
  assert.is(plan([{ data: merged, offset: 0x1000, name: "merged" }]), "written by merged at 0xd000");
});

test.run();
