// Signed updates on a virtual ESP32 (CONFIG_SECURE_SIGNED_ON_UPDATE_NO_SECURE_BOOT): the shipped
// esp32-ota-unsigned suite through runSuite, with v1 and v2 signed by `signImageV2` (real RSA-3072 PSS).
// v2 served without its signature sector is refused with ESP-IDF's lines and v1 keeps booting; the signed
// v2 boots from ota_1. Then the ways the same update must still be refused: signed by another key, a running
// app that carries no signature, and an unsigned artifact given to the unsigned fault.
import { generateKeyPairSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadProfiles } from "@hil/device-profiles";
import { makeTempDir } from "@hil/test-kit";
import { findSuite } from "@hil/test-suites";
import { buildEsp32Image, buildPartitionTable, loadSigningKey, OTA_ONLY_TABLE, signImageV2 } from "../src/esp32-image/index.js";
import { Inventory } from "../src/inventory/inventory.js";
import { runSuite } from "../src/runner/run-suite.js";

const profiles = await loadProfiles();
const tmp = await makeTempDir();
const inventory = await Inventory.create({ agent: "sig", profiles });
const [board] = await inventory.addVirtualEsp32({ count: 1 });
const boardId = board!.id;
const newKey = () => loadSigningKey(generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey.export({ type: "pkcs8", format: "pem" }));
const key = newKey();

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, bytes);
  return path;
}

const app = (version: string) =>
  buildEsp32Image({ appDesc: { projectName: "signed_demo", version }, scenario: { kind: "ota", signedUpdates: true }, padTo: 64 * 1024, padSeed: version.charCodeAt(0) });

async function run(tag: string, v1: Uint8Array, v2: Uint8Array) {
  const suite = await findSuite("esp32-ota-unsigned");
  assert.ok(suite);
  const artifacts = {
    "partition-table": await file(`${tag}-pt.bin`, buildPartitionTable(OTA_ONLY_TABLE)),
    v1: await file(`${tag}-v1.bin`, v1),
    v2: await file(`${tag}-v2.bin`, v2),
  };
  const target = await inventory.openEsp32(boardId);
  try {
    const result = await runSuite({ suite, targets: { dut: target }, artifacts });
    const lines = result.steps.map((s) => `${s.index + 1} ${s.name}: ${s.outcome} ${s.message ?? ""}`).join("\n");
    return { result, lines, log: result.log.map((l) => l.text).join("\n"), step: (name: string) => result.steps.find((s) => s.name === name) };
  } finally {
    await target.close();
  }
}

test("esp32-ota-unsigned: v2 without its signature is refused and v1 still boots; the signed v2 boots from ota_1", async () => {
  const { result, lines, log, step } = await run("ok", signImageV2(app("1.0.0"), key), signImageV2(app("2.0.0"), key));
  assert.is(result.outcome, "pass", lines);
  assert.match(step("serve v2 without its signature sector")?.message ?? "", /fault unsigned: signature sector taken off \(\d+ bytes\)/);
  assert.match(log, /esp_image: Secure boot signature verification failed/);
  assert.match(log, /esp_image: image valid, signature bad/);
  assert.match(log, /secure_boot_v2_rsa: Signature verified successfully!/);
  assert.equal(step("the signed v2 is accepted and boots from ota_1")?.details?.partition, "ota_1");
  assert.equal(step("after a reset v1 still boots from ota_0")?.details?.partition, "ota_0");
});

test("still refused: v2 signed by another key, and any update to a running app that carries no signature", async () => {
  const otherKey = await run("other", signImageV2(app("1.0.0"), key), signImageV2(app("2.0.0"), newKey()));
  assert.is.not(otherKey.result.outcome, "pass", otherKey.lines);
  // the update was refused, so the board never restarts into v2: expect-boot waits out its time
  assert.match(otherKey.step("the signed v2 is accepted and boots from ota_1")?.message ?? "", /^no boot/, otherKey.lines);
  assert.match(otherKey.log, /image valid, signature bad/);
  assert.is(otherKey.step("after a reset v1 still boots from ota_0")?.outcome, "pass", "the unsigned v2 was refused before it");

  const unsignedV1 = await run("plain-v1", app("1.0.0"), signImageV2(app("2.0.0"), key));
  assert.match(unsignedV1.step("the signed v2 is accepted and boots from ota_1")?.message ?? "", /^no boot/, unsignedV1.lines);
  assert.match(unsignedV1.log, /secure_boot_v2: No signatures were found for the running app/);
});

test("the unsigned fault on an artifact that carries no signature: IMAGE_INVALID before the board is told anything", async () => {
  const { result, step, log } = await run("plain-v2", signImageV2(app("1.0.0"), key), app("2.0.0"));
  const serve = step("serve v2 without its signature sector");
  assert.is(serve?.errorCode, "IMAGE_INVALID");
  assert.match(serve?.message ?? "", /ota\.serve v2: fault unsigned takes a signed image \(hil image sign\)/);
  assert.is.not(result.outcome, "pass");
  assert.not.match(log, /Verifying image signature/, "no update was tried");
});

test.after(async () => {
  await inventory.close();
  await tmp.remove();
});

test.run();
