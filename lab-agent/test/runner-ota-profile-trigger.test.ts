// ota.trigger as the board's profile says (docs/ota.md, "The profile's trigger"): the shipped
// esp32-ota-happy suite, whose trigger step names no command, on virtual ESP32s whose profiles tell the
// app to update by console command, by an HTTP request to the app's own endpoint, or not at all (the app
// polls a manifest). A step's own command still wins; a device that refuses the request, or a manifest
// served where the device does not look, fails with what to change.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SuiteSchema, type Suite } from "@hil/contracts";
import { loadProfileFile, loadProfiles, type DeviceProfile } from "@hil/device-profiles";
import { freePort, makeTempDir } from "@hil/test-kit";
import { findSuite } from "@hil/test-suites";
import { buildEsp32Image, buildPartitionTable, OTA_ONLY_TABLE } from "../src/esp32-image/index.js";
import { unsetTriggerSecrets } from "../src/agent/inventory-agent.js";
import { Inventory } from "../src/inventory/inventory.js";
import { runSuite } from "../src/runner/run-suite.js";
import type { ScenarioSpecInput } from "../src/virtual/esp32/firmware/scenario-spec.js";

const tmp = await makeTempDir();
const httpPort = await freePort();
const manifestPort = await freePort();
/** The authenticated app's endpoint: a board's app keeps its port after its run, so each app has its own. */
const authPort = await freePort();
/** The variable the authenticated profile's Authorization header names; set and unset by its test. */
const TOKEN_ENV = `HIL_TEST_OTA_TOKEN_${process.pid}`;

async function profileFile(id: string, trigger: string): Promise<DeviceProfile> {
  const path = join(tmp.dir, `${id}.yaml`);
  await writeFile(path, `id: ${id}\nname: ${id}\nkind: esp32\nchip: esp32\nvirtual: true\nota:\n  trigger:\n${trigger}`);
  return loadProfileFile(path);
}

const profiles = new Map(await loadProfiles());
for (const p of [
  await profileFile("esp32-virtual-http", `    via: http\n    url: 'http://127.0.0.1:${httpPort}/ota'\n    body: '{url}'\n`),
  await profileFile("esp32-virtual-http-wrong", `    via: http\n    url: 'http://127.0.0.1:${httpPort}/update'\n    body: '{url}'\n`),
  await profileFile(
    "esp32-virtual-http-auth",
    `    via: http\n    url: 'http://127.0.0.1:${authPort}/ota'\n    body: '{url}'\n    headers:\n      Authorization: 'Bearer {env:${TOKEN_ENV}}'\n      X-Update-Version: '{version}'\n`,
  ),
  await profileFile("esp32-virtual-poll", `    via: poll\n    manifestUrl: 'http://127.0.0.1:${manifestPort}/manifest.json'\n`),
]) {
  profiles.set(p.id, p);
}
const inventory = await Inventory.create({ agent: "otp", profiles });
const board = async (profile: string) => (await inventory.addVirtualEsp32({ count: 1, profile }))[0]!.id;
const shipped = await board("esp32-virtual");
const http = await board("esp32-virtual-http");
const poll = await board("esp32-virtual-poll");

async function file(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(tmp.dir, name);
  await writeFile(path, bytes);
  return path;
}

/** v1 and v2 with the same scenario (the way the product's app is told to update is built in). */
async function artifacts(tag: string, scenario: ScenarioSpecInput): Promise<Record<string, string>> {
  const app = (version: string) => buildEsp32Image({ appDesc: { projectName: "ota_demo", version }, scenario, padTo: 64 * 1024, padSeed: version.charCodeAt(0) });
  return {
    "partition-table": await file(`${tag}-pt.bin`, buildPartitionTable(OTA_ONLY_TABLE)),
    v1: await file(`${tag}-v1.bin`, app("1.0.0")),
    v2: await file(`${tag}-v2.bin`, app("2.0.0")),
  };
}

async function happy(): Promise<Suite> {
  const suite = await findSuite("esp32-ota-happy");
  assert.ok(suite);
  assert.is(suite.steps.find((s) => s.type === "ota.trigger" && s.command === undefined && s.via === undefined)?.type, "ota.trigger", "the shipped suite leaves the trigger to the profile");
  return suite;
}

async function run(boardId: string, suite: Suite, a: Record<string, string>) {
  const target = await inventory.openEsp32(boardId);
  try {
    const result = await runSuite({ suite, targets: { dut: target }, artifacts: a });
    const lines = result.steps.map((s) => `${s.index + 1} ${s.name}: ${s.outcome} ${s.message ?? ""}`).join("\n");
    return { result, lines, trigger: result.steps.find((s) => s.type === "ota.trigger") };
  } finally {
    await target.close();
  }
}

test("the shipped esp32-virtual profile's trigger: its console command, with the server's URL filled in", async () => {
  const { result, lines, trigger } = await run(shipped, await happy(), await artifacts("cmd", { kind: "ota" }));
  assert.is(result.outcome, "pass", lines);
  assert.is(trigger?.details?.trigger, "profile");
  assert.match(String(trigger?.details?.command), /^ota http:\/\/127\.0\.0\.1:\d+\/firmware\.bin$/);
  assert.equal(result.steps.at(-1)?.details?.version, "2.0.0");
});

test("via: http: the agent asks the app's own endpoint, no console command is typed, and v2 boots", async () => {
  const { result, lines, trigger } = await run(http, await happy(), await artifacts("http", { kind: "ota", httpTrigger: { port: httpPort } }));
  assert.is(result.outcome, "pass", lines);
  assert.equal([trigger?.details?.via, trigger?.details?.trigger, trigger?.details?.command], ["http", "profile", null]);
  assert.is(trigger?.details?.request, `POST http://127.0.0.1:${httpPort}/ota`);
  const log = result.log.map((l) => l.text).join("\n");
  assert.match(log, /ota: HTTP POST \/ota: update from http:\/\/127\.0\.0\.1:\d+\/firmware\.bin/);
  assert.not.match(log, /esp32> ota /, "nothing typed into the console");
  assert.equal(result.steps.at(-1)?.details?.partition, "ota_1");
});

test("the step's command overrides the profile; an endpoint that answers 404 fails the trigger, saying so", async () => {
  const a = await artifacts("override", { kind: "ota", httpTrigger: { port: httpPort } });
  const base = await happy();
  const override = SuiteSchema.parse({ ...base, steps: base.steps.map((s) => (s.type === "ota.trigger" ? { ...s, command: "ota ${v2.url}" } : s)) });
  const { result, lines, trigger } = await run(http, override, a);
  assert.is(result.outcome, "pass", lines);
  assert.equal([trigger?.details?.via, trigger?.details?.trigger], ["command", "step"]);
  // the same board under a profile whose endpoint path the app does not serve
  const wrong = (await inventory.addVirtualEsp32({ count: 1, profile: "esp32-virtual-http-wrong" }))[0]!.id;
  const refused = await run(wrong, base, a);
  assert.is(refused.result.outcome, "fail", refused.lines);
  assert.is(refused.trigger?.outcome, "fail");
  assert.match(refused.trigger?.message ?? "", new RegExp(`^POST http://127\\.0\\.0\\.1:${httpPort}/update \\(the profile's ota\\.trigger\\): the device answered 404`));
});

test("via: http with headers: the secret comes from the agent's environment, never into a log; wrong or missing, the step says so", async () => {
  const secret = `s3cret-${process.pid}-${Date.now()}`;
  const a = await artifacts("auth", { kind: "ota", httpTrigger: { port: authPort, authorization: `Bearer ${secret}` } });
  const base = await happy();
  const authed = (await inventory.addVirtualEsp32({ count: 1, profile: "esp32-virtual-http-auth" }))[0]!.id;
  try {
    process.env[TOKEN_ENV] = secret;
    const ok = await run(authed, base, a);
    assert.is(ok.result.outcome, "pass", ok.lines);
    assert.equal(ok.result.steps.at(-1)?.details?.partition, "ota_1");
    assert.not.ok(JSON.stringify(ok.result).includes(secret), "the token is in no step, detail or log line");

    process.env[TOKEN_ENV] = "not-the-token";
    const wrong = await run(authed, base, a);
    assert.is(wrong.trigger?.outcome, "fail", wrong.lines);
    assert.match(wrong.trigger?.message ?? "", /the device answered 401 "unauthorized"; check the credentials the profile's ota\.trigger\.headers send$/);
    assert.match(wrong.result.log.map((l) => l.text).join("\n"), /ota: HTTP POST \/ota: wrong credentials/);

    delete process.env[TOKEN_ENV];
    // what an agent starting now warns of, before any run
    assert.equal(unsetTriggerSecrets(profiles.values(), process.env), [{ profile: "esp32-virtual-http-auth", unset: [TOKEN_ENV] }]);
    const missing = await run(authed, base, a);
    assert.is(missing.trigger?.errorCode, "PROFILE_INVALID", missing.lines);
    assert.is(missing.trigger?.message, `the profile's ota.trigger.headers name {env:${TOKEN_ENV}}, but this agent's environment has no ${TOKEN_ENV}: set it where the agent starts`);
    assert.not.match(missing.result.log.map((l) => l.text).join("\n"), /HTTP POST/, "nothing was sent without the credentials");

  } finally {
    delete process.env[TOKEN_ENV];
  }
});

test("via: poll: nothing is sent, the app finds v2 in the manifest; served elsewhere, the step says where to serve", async () => {
  const a = await artifacts("poll", { kind: "ota", manifestUrl: `http://127.0.0.1:${manifestPort}/manifest.json`, pollMs: 300 });
  const base = await happy();
  const there = SuiteSchema.parse({ ...base, steps: base.steps.map((s) => (s.type === "ota.serve" && s.as === "v2" ? { ...s, port: manifestPort } : s)) });
  const { result, lines, trigger } = await run(poll, there, a);
  assert.is(result.outcome, "pass", lines);
  assert.equal([trigger?.details?.via, trigger?.details?.trigger, trigger?.details?.end], ["poll", "profile", "done"]);
  const elsewhere = await run(poll, base, a);
  assert.is(elsewhere.trigger?.errorCode, "SUITE_INVALID", elsewhere.lines);
  assert.match(elsewhere.trigger?.message ?? "", new RegExp(`the profile says the device polls http://127\\.0\\.0\\.1:${manifestPort}/manifest\\.json, but ota\\.serve as: v2 serves http://127\\.0\\.0\\.1:\\d+/manifest\\.json; give that ota\\.serve host: 127\\.0\\.0\\.1 and port: ${manifestPort}`));
});

test.after(async () => {
  await inventory.close();
  await tmp.remove();
});

test.run();
