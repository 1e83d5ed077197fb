// A board an OTA suite left booting ota_1 must boot the app the next run flashes: the flash step blanks
// otadata (from the board's own partition table, read through the ROM loader) as `idf.py flash` does,
// unless the step says `otadata: keep`. Real pieces: VirtualEsp32 behind RFC 2217 (Inventory),
// esptool-js through Esp32FlashDriver, the virtual bootloader choosing the slot from otadata.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SuiteSchema } from "@hil/contracts";
import { loadProfiles } from "@hil/device-profiles";
import { makeTempDir } from "@hil/test-kit";
import { findSuite } from "@hil/test-suites";
import { buildEsp32Image, buildOtadata, buildPartitionTable, OTA_ONLY_TABLE, SINGLE_APP_TABLE } from "../src/esp32-image/index.js";
import { Inventory } from "../src/inventory/inventory.js";
import { runSuite, type SuiteResult } from "../src/runner/run-suite.js";

const profiles = await loadProfiles();
const tmp = await makeTempDir();
const inventory = await Inventory.create({ agent: "otad", profiles });
const [board] = await inventory.addVirtualEsp32({ count: 1 });
const boardId = board!.id;

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, bytes);
  return path;
}

const app = (version: string) => buildEsp32Image({ appDesc: { projectName: "otad_demo", version }, padTo: 64 * 1024, padSeed: version.charCodeAt(0) });
const artifacts = {
  "partition-table": await file("partition-table.bin", buildPartitionTable(OTA_ONLY_TABLE)),
  "single-app-table": await file("single-app-table.bin", buildPartitionTable(SINGLE_APP_TABLE)),
  v1: await file("v1.bin", app("1.0.0")),
  v2: await file("v2.bin", app("2.0.0")),
  v3: await file("v3.bin", app("3.0.0")),
  // what an OTA update to ota_1 leaves behind: otadata[1] holds seq 2, state VALID, selecting slot (2 - 1) % 2 = ota_1
  "otadata-ota1": await file("otadata-ota1.bin", buildOtadata([undefined, { seq: 2, state: 2 }])),
};
const ARTIFACT_KINDS = {
  "partition-table": { kind: "esp32-bin" },
  "single-app-table": { kind: "esp32-bin" },
  v1: { kind: "esp32-app" },
  v2: { kind: "esp32-app" },
  v3: { kind: "esp32-app" },
  "otadata-ota1": { kind: "esp32-bin" },
} as const;

function suite(name: string, steps: unknown[]) {
  return SuiteSchema.parse({ name, roles: { dut: { profile: "esp32-virtual" } }, artifacts: ARTIFACT_KINDS, steps });
}

async function run(s: ReturnType<typeof suite>): Promise<SuiteResult> {
  const target = await inventory.openEsp32(boardId);
  try {
    return await runSuite({ suite: s, targets: { dut: target }, artifacts });
  } finally {
    await target.close();
  }
}

const summary = (r: SuiteResult) => r.steps.map((s) => `${s.index + 1} ${s.name}: ${s.outcome} ${s.message ?? ""}`).join("\n");
const otadataBytes = () => inventory.virtualDevice(boardId)!.flash.subarray(0xd000, 0xf000);

/** The state an OTA suite ends in: OTA table, v1 in ota_0, v2 in ota_1, otadata selecting ota_1; checked by a boot. */
async function leaveBoardOnOta1(): Promise<void> {
  const r = await run(
    suite("ota-leftover", [
      { type: "flash", erase: true, images: [{ artifact: "partition-table", offset: "0x8000" }, { artifact: "v1" }] },
      { type: "flash", images: [{ artifact: "v2", offset: "0x190000" }, { artifact: "otadata-ota1", offset: "0xd000" }] },
      { type: "reset" },
      { type: "expect-boot", name: "v2 boots from ota_1", version: "2.0.0", partition: "ota_1" },
    ]),
  );
  assert.is(r.outcome, "pass", summary(r));
}

test("after an OTA run left ota_1 selected, esp32-smoke's flash blanks otadata and the new app boots from ota_0", async () => {
  await leaveBoardOnOta1();
  const smoke = await findSuite("esp32-smoke");
  assert.ok(smoke);
  const target = await inventory.openEsp32(boardId);
  let result: SuiteResult;
  try {
    result = await runSuite({ suite: smoke, targets: { dut: target }, artifacts: { app: artifacts.v3 } });
  } finally {
    await target.close();
  }
  assert.is(result.outcome, "pass", summary(result));
  const log = result.log.map((l) => l.text).join("\n");
  assert.not.match(log, /App version: +2\.0\.0/, "the stale app in ota_1 did not boot");
  assert.match(log, /boot: Loaded app from partition at offset 0x10000/);
  assert.match(log, /App version: +3\.0\.0/);
  const flash = result.steps[0]!;
  assert.is(flash.details?.otadata, "reset at 0xd000 (0x2000 bytes)");
  assert.match(flash.message ?? "", /^flashed app@0x10000; otadata: reset at 0xd000 \(0x2000 bytes\)$/);
  // the bootloader found otadata blank, booted ota_0 and recorded it (ESP-IDF's "Set actual ota_seq=1")
  assert.is(Buffer.from(otadataBytes().subarray(0, 4)).readUInt32LE(0), 1);
});

test("the lab's health check (esp32-health) after an OTA run checks the known-good image, not the stale ota_1 app", async () => {
  await leaveBoardOnOta1();
  const health = await findSuite("esp32-health");
  assert.ok(health);
  const target = await inventory.openEsp32(boardId);
  let result: SuiteResult;
  try {
    result = await runSuite({ suite: health, targets: { dut: target }, artifacts: { app: artifacts.v3 } });
  } finally {
    await target.close();
  }
  assert.is(result.outcome, "pass", summary(result));
  const log = result.log.map((l) => l.text).join("\n");
  assert.not.match(log, /App version: +2\.0\.0/, "the stale app in ota_1 did not boot");
  assert.match(log, /App version: +3\.0\.0/);
  assert.is(result.steps[0]?.details?.otadata, "reset at 0xd000 (0x2000 bytes)");
});

test("otadata: keep leaves the OTA selection, so the board still boots ota_1", async () => {
  await leaveBoardOnOta1();
  const before = Buffer.from(otadataBytes());
  const r = await run(
    suite("keep", [
      { type: "flash", otadata: "keep", images: [{ artifact: "v3" }] },
      { type: "reset" },
      { type: "expect-boot", name: "v2 still boots from ota_1", version: "2.0.0", partition: "ota_1" },
    ]),
  );
  assert.is(r.outcome, "pass", summary(r));
  assert.is(r.steps[0]?.details?.otadata, "kept (otadata: keep)");
  // the boot above rewrote nothing: ota_1's entry was VALID already
  assert.ok(before.equals(Buffer.from(otadataBytes())), "otadata unchanged");
});

test("an unchanged app is skipped but otadata is still reset; a reflash as the recovery ladder sends one (no options) does it too", async () => {
  await leaveBoardOnOta1();
  // v1 is already in ota_0 byte for byte: only otadata is written
  const r = await run(
    suite("same-app", [
      { type: "flash", images: [{ artifact: "v1" }] },
      { type: "reset" },
      { type: "expect-boot", version: "1.0.0", partition: "ota_0" },
    ]),
  );
  assert.is(r.outcome, "pass", summary(r));
  assert.is(r.steps[0]?.details?.otadata, "reset at 0xd000 (0x2000 bytes)");

  // the recovery ladder's reflash: the agent's flash command calls the target with erase: false and nothing else
  await leaveBoardOnOta1();
  const target = await inventory.openEsp32(boardId);
  try {
    const done = await target.flash([{ name: "known-good", path: artifacts.v3, offset: 0x10000 }], { erase: false });
    assert.equal(done, { otadata: "reset at 0xd000 (0x2000 bytes)", otadataReset: true });
    await target.console.expect(/boot: Loaded app from partition at offset 0x10000/, { timeoutMs: 20_000 });
    await target.console.expect(/App version: +3\.0\.0/, { timeoutMs: 20_000 });
  } finally {
    await target.close();
  }
});

test("the table the step writes decides: an OTA table gets otadata blanked, a single-app table has none", async () => {
  await leaveBoardOnOta1();
  const r = await run(
    suite("with-table", [
      { type: "flash", images: [{ artifact: "partition-table", offset: "0x8000" }, { artifact: "v3" }] },
      { type: "reset" },
      { type: "expect-boot", version: "3.0.0", partition: "ota_0" },
      { type: "flash", name: "single-app table", images: [{ artifact: "single-app-table", offset: "0x8000" }, { artifact: "v2" }] },
      { type: "reset" },
      { type: "expect-boot", version: "2.0.0", partition: "factory" },
    ]),
  );
  assert.is(r.outcome, "pass", summary(r));
  assert.is(r.steps[0]?.details?.otadata, "reset at 0xd000 (0x2000 bytes)");
  assert.is(r.steps[3]?.details?.otadata, "none: the partition table (written by this flash) has no otadata partition");
  assert.is(r.steps[3]?.message, "flashed single-app-table@0x8000, v2@0x10000", "nothing to say about otadata in the message");
});

test.after(async () => {
  await inventory.close();
  await tmp.remove();
});

test.run();
