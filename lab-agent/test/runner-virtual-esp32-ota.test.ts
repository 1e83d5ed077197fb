// The shipped esp32-ota suite end to end on a virtual ESP32: runSuite over RFC 2217 and esptool-js
// (Inventory), the agent's OTA server on 127.0.0.1, the board's app downloading with node's HTTP
// client. Then the same suite through `hil test` (the CLI process from sources), exit code and results.
import { crc32 } from "node:zlib";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SuiteSchema } from "@hil/contracts";
import { loadProfiles } from "@hil/device-profiles";
import { makeTempDir } from "@hil/test-kit";
import { findSuite } from "@hil/test-suites";
import { buildEsp32Image, buildPartitionTable, OTA_ONLY_TABLE } from "../src/esp32-image/index.js";
import { Inventory } from "../src/inventory/inventory.js";
import { runSuite } from "../src/runner/run-suite.js";
import { startHilTestBench } from "./fixtures/hil-test-bench.js";

const profiles = await loadProfiles();
const tmp = await makeTempDir();
const inventory = await Inventory.create({ agent: "ota", profiles });
const [board] = await inventory.addVirtualEsp32({ count: 1 });
const boardId = board!.id;

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, bytes);
  return path;
}

async function artifacts(): Promise<Record<string, string>> {
  const app = (version: string, markValid = true) =>
    buildEsp32Image({ appDesc: { projectName: "ota_demo", version }, scenario: { kind: "ota", markValid }, padTo: 96 * 1024, padSeed: version.charCodeAt(0) });
  return {
    "partition-table": await file("partition-table.bin", buildPartitionTable(OTA_ONLY_TABLE)),
    v1: await file("v1.bin", app("1.0.0")),
    v2: await file("v2.bin", app("2.0.0")),
    v3: await file("v3.bin", app("3.0.0", false)),
    v4: await file("v4.bin", app("4.0.0")),
  };
}

/** otadata's two entries straight from the board's flash (esptool read-flash 0xd000 0x2000), decoded by hand. */
function otadata(flash: Uint8Array): [number, number, boolean][] {
  return [0xd000, 0xe000].map((at) => {
    const b = Buffer.from(flash.subarray(at, at + 32));
    return [b.readUInt32LE(0), b.readUInt32LE(24), b.readUInt32LE(28) === crc32(b.subarray(0, 4), 0xffffffff)];
  });
}

test("esp32-ota on a virtual ESP32: v2 over HTTP into ota_1, v3 rolled back, cut/corrupt/wrong-chip refused", async () => {
  const suite = await findSuite("esp32-ota");
  assert.ok(suite);
  const target = await inventory.openEsp32(boardId, { runId: "run-ota" });
  try {
    const result = await runSuite({ suite, targets: { dut: target }, artifacts: await artifacts(), runId: "run-ota" });
    const lines = result.steps.map((s) => `${s.index + 1} ${s.name}: ${s.outcome} ${s.message ?? ""}`).join("\n");
    assert.is(result.outcome, "pass", lines);
    const byName = (name: string) => result.steps.find((s) => s.name === name);
    assert.equal(byName("v1 boots from ota_0")?.details?.partition, "ota_0");
    assert.equal(byName("v2 boots from ota_1")?.details, { version: "2.0.0", partition: "ota_1", offset: "0x190000", reset: "SW_CPU_RESET", project: "ota_demo" });
    assert.equal(byName("v3 boots once from ota_0, unconfirmed")?.details?.version, "3.0.0");
    const rollback = byName("the reset rolls back to v2");
    assert.match(rollback?.message ?? "", /^rolled back: booted 2\.0\.0 from ota_1 \(0x190000\) after POWERON_RESET/);
    const serve = result.steps.find((s) => s.type === "ota.serve");
    assert.match(String(serve?.details?.url), /^http:\/\/127\.0\.0\.1:\d+\/firmware\.bin$/);
    assert.is(serve?.details?.version, "2.0.0");
    const cut = result.steps.filter((s) => s.type === "ota.trigger")[2];
    assert.equal([cut?.details?.end, cut?.details?.bytesSent, cut?.details?.total], ["cut", 48 * 1024, 96 * 1024]);
    assert.match(byName("a download cut halfway is refused")?.message ?? "", /^refused: E \(\d+\) ota: OTA failed: ota_1 keeps running, otadata unchanged; no restart within 2000 ms, 2\.0\.0 keeps running$/);
    assert.match(result.log.map((l) => l.text).join("\n"), /ota: Error: connection closed after 49152 of 98304 bytes/);
    assert.match(String(byName("a corrupt image is refused")?.details?.refusedBy), /ota: (Image validation failed|OTA failed)/);
    assert.match(result.log.map((l) => l.text).join("\n"), /boot_comm: mismatch chip ID, expected 0, found 9/);
    assert.is(byName("v2 still boots from ota_1 (running slot and otadata untouched)")?.outcome, "pass");
    // v3's entry was aborted by the bootloader, v2's is valid: what a real board's otadata holds now
    assert.equal(otadata(inventory.virtualDevice(boardId)!.flash), [
      [3, 4, true],
      [2, 2, true],
    ]);
  } finally {
    await target.close();
  }
});

test("a boot on the wrong partition fails expect-boot with what it saw; an unset ${var} is a suite problem", async () => {
  const suite = SuiteSchema.parse({
    name: "ota-wrong",
    roles: { dut: { profile: "esp32-virtual" } },
    artifacts: { "partition-table": { kind: "esp32-bin" }, v1: { kind: "esp32-app" } },
    steps: [
      { type: "flash", erase: true, images: [{ artifact: "partition-table", offset: "0x8000" }, { artifact: "v1" }] },
      { type: "reset" },
      { type: "expect-boot", partition: "ota_1", version: "1.0.0" },
    ],
  });
  const target = await inventory.openEsp32(boardId);
  try {
    const all = await artifacts();
    const wrong = await runSuite({ suite, targets: { dut: target }, artifacts: all });
    assert.is(wrong.outcome, "fail");
    assert.is(wrong.steps[2]?.message, "booted 1.0.0 from ota_0 (0x10000) after POWERON_RESET: partition ota_0 is not ota_1");
    assert.is(wrong.steps[2]?.details?.partition, "ota_0");
    // the app gives up without fetching (nothing listens there): the trigger fails at once, not at its timeout
    const nowhere = SuiteSchema.parse({
      ...suite,
      steps: [
        { type: "reset" },
        { type: "expect-boot", partition: "ota_0" },
        { type: "ota.serve", artifact: "v1" },
        { type: "ota.trigger", command: "ota http://127.0.0.1:1/firmware.bin", timeout: "60s" },
      ],
    });
    const started = Date.now();
    const gaveUp = await runSuite({ suite: nowhere, targets: { dut: target }, artifacts: all });
    assert.is(gaveUp.outcome, "fail");
    assert.match(gaveUp.steps[3]?.message ?? "", /^the device gave up on the update without fetching http:\/\/127\.0\.0\.1:\d+\/firmware\.bin: .*ota: (HTTP connection failed|OTA failed)/);
    assert.ok(Date.now() - started < 30_000, "failed well before the 60 s timeout");
    const unset = SuiteSchema.parse({ ...suite, steps: [{ type: "ota.trigger", command: "ota ${v9.url}" }] });
    const r = await runSuite({ suite: unset, targets: { dut: target }, artifacts: all });
    assert.is(r.steps[0]?.errorCode, "SUITE_INVALID");
    assert.match(r.steps[0]?.message ?? "", /no OTA server "ota" is running; add an ota\.serve step with as: ota/);
  } finally {
    await target.close();
  }
});

test("hil test --suite esp32-ota: exit 0, step details in result.json", async () => {
  const bench = await startHilTestBench("ota-cli");
  try {
    const a = await artifacts();
    const out = join(bench.dir, "ota-out");
    const args = ["--port", bench.url, "--profile", "esp32-virtual", "--suite", "esp32-ota", "--out", out, "--quiet"];
    for (const [name, path] of Object.entries(a)) args.push("--artifact", `${name}=${path}`);
    const r = await bench.hilTest(args);
    assert.is(r.code, 0, r.out);
    const json = JSON.parse(await readFile(join(out, "result.json"), "utf8")) as { steps: { name: string; details?: Record<string, unknown> }[] };
    assert.equal(json.steps.find((s) => s.name === "the reset rolls back to v2")?.details?.version, "2.0.0");
    assert.match(await readFile(join(out, "junit.xml"), "utf8"), /<testsuite name="esp32-ota" tests="22" failures="0" errors="0"/);
  } finally {
    await bench.stop();
  }
});

test.after(async () => {
  await inventory.close();
  await tmp.remove();
});

test.run();
