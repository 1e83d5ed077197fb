// The runner against the real pieces: VirtualEsp32 behind a loopback RFC 2217 server (Inventory),
// the real Rfc2217Link, esptool-js flashing through Esp32FlashDriver, images built by buildEsp32Image.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SuiteSchema } from "@hil/contracts";
import { loadProfiles } from "@hil/device-profiles";
import { makeTempDir } from "@hil/test-kit";
import { findSuite } from "@hil/test-suites";
import { buildEsp32Image } from "../src/esp32-image/index.js";
import { Inventory } from "../src/inventory/inventory.js";
import { createLink } from "../src/links/open-link.js";
import { createEsp32Target } from "../src/runner/esp32-target.js";
import { runSuite } from "../src/runner/run-suite.js";
import type { ScenarioSpecInput } from "../src/virtual/esp32/firmware/scenario-spec.js";

const profiles = await loadProfiles();
const tmp = await makeTempDir();
const inventory = await Inventory.create({ agent: "rt", profiles });
const [board] = await inventory.addVirtualEsp32({ count: 1 });
const boardId = board!.id;

async function image(name: string, scenario: ScenarioSpecInput): Promise<string> {
  const path = join(tmp.dir, `${name}.bin`);
  await writeFile(path, buildEsp32Image({ appDesc: { projectName: name, version: "2.0.1" }, scenario }));
  return path;
}

const UNITY: ScenarioSpecInput = {
  kind: "unity",
  cases: [
    { name: "gpio toggles", tags: "[gpio]", file: "main/test_gpio.c", line: 11 },
    { name: "wifi connects", tags: "[wifi]", file: "main/test_wifi.c", line: 22, outcome: "fail", message: "Expected 0 Was 257" },
    { name: "null deref", tags: "[mem]", file: "main/test_mem.c", line: 33, outcome: "panic", message: "LoadProhibited" },
    { name: "nvs blob", tags: "[nvs]", file: "main/test_nvs.c", line: 44 },
    { name: "later", tags: "[x]", outcome: "ignore" },
  ],
};

test("esp32-unity: right passes and failures; the panic fails its case with the backtrace and the next case still runs", async () => {
  const suite = await findSuite("esp32-unity");
  assert.ok(suite);
  const target = await inventory.openEsp32(boardId, { runId: "run-u" });
  try {
    const result = await runSuite({ suite, targets: { dut: target }, artifacts: { "test-app": await image("unity_app", UNITY) }, runId: "run-u" });
    const got = Object.fromEntries(result.cases.map((c) => [c.name, c]));
    assert.is(got["gpio toggles"]?.outcome, "pass");
    assert.is(got["gpio toggles"]?.group, "gpio");
    assert.is(got["wifi connects"]?.outcome, "fail");
    assert.match(got["wifi connects"]?.message ?? "", /Expected 0 Was 257/);
    assert.is(got["null deref"]?.outcome, "fail");
    assert.match(got["null deref"]?.message ?? "", /Guru Meditation Error: Core\s+0 panic'ed \(LoadProhibited\)/);
    assert.match(got["null deref"]?.message ?? "", /Backtrace:/);
    assert.is(got["nvs blob"]?.outcome, "pass", "the case after the panic runs after the reboot");
    assert.is(got["later"]?.outcome, "skip");
    assert.is(result.outcome, "fail");
    assert.ok(result.log.some((l) => /rst:0xc \(SW_CPU_RESET\)/.test(l.text)), "the reboot after the panic is in the log");
  } finally {
    await target.close();
  }
});

test("esp32-console passes on an app with a console; the second run finds the image already flashed", async () => {
  const suite = await findSuite("esp32-console");
  assert.ok(suite);
  const app = await image("smoke_app", { kind: "console" });
  for (const round of [1, 2]) {
    const target = await inventory.openEsp32(boardId);
    try {
      const result = await runSuite({ suite, targets: { dut: target }, artifacts: { app } });
      assert.is(result.outcome, "pass", `round ${round}: ${JSON.stringify(result.steps.filter((s) => s.outcome !== "pass"))}`);
      assert.equal(result.steps.map((s) => s.outcome), suite.steps.map(() => "pass"));
      assert.ok(result.log.some((l) => /^IDF Version:/.test(l.text)));
      assert.is(target.lastFlash?.alreadyFlashed, round === 2, `round ${round}: ${JSON.stringify(target.lastFlash)}`);
    } finally {
      await target.close();
    }
  }
});

test("a boot-looping app: the expect for app_main times out and says the board is in a boot loop", async () => {
  const suite = SuiteSchema.parse({
    name: "boot-check",
    roles: { dut: { profile: "esp32-virtual" } },
    artifacts: { app: { kind: "esp32-app" } },
    steps: [
      { type: "flash", images: [{ artifact: "app" }] },
      { type: "expect", name: "app started", pattern: "main_task: Calling app_main\\(\\)", timeout: "8s" },
    ],
  });
  const target = await inventory.openEsp32(boardId);
  try {
    const result = await runSuite({ suite, targets: { dut: target }, artifacts: { app: await image("looper", { kind: "bootloop", cause: "panic" }) } });
    assert.is(result.outcome, "fail");
    assert.is(result.steps[1]?.errorCode, "STEP_TIMEOUT");
    assert.match(result.steps[1]?.message ?? "", /^the board is in a boot loop \(\d+ boots without reaching app_main\)/);
  } finally {
    await target.close();
  }
});

test("a different board on the port (MAC mismatch) is an infrastructure error and nothing is flashed", async () => {
  const suite = await findSuite("esp32-unity");
  assert.ok(suite);
  const target = await createEsp32Target({
    boardId,
    profile: profiles.get("esp32-virtual")!,
    link: createLink(board!.endpoint!),
    expectedMac: "02:00:00:00:00:01",
  });
  try {
    const result = await runSuite({ suite, targets: { dut: target }, artifacts: { "test-app": await image("other_app", UNITY) } });
    assert.is(result.outcome, "error");
    assert.is(result.error?.code, "IDENTITY_MISMATCH");
    assert.match(result.error?.message ?? "", /expected 02:00:00:00:00:01/);
    assert.is(target.lastFlash, undefined);
  } finally {
    await target.close();
  }
});

test("cancelling mid-flash ends the run promptly as cancelled and leaves the board usable", async () => {
  const suite = await findSuite("esp32-unity");
  assert.ok(suite);
  const big = join(tmp.dir, "big-cancel.bin");
  await writeFile(big, buildEsp32Image({ appDesc: { projectName: "big", version: "8" }, scenario: UNITY, padTo: 512 * 1024, padSeed: 3 }));
  const device = inventory.virtualDevice(boardId)!;
  const ac = new AbortController();
  let abortedAt = 0;
  const sub = device.onModeChange((mode) => {
    if (mode === "stub" && abortedAt === 0) {
      abortedAt = Date.now();
      ac.abort();
    }
  });
  const first = await inventory.openEsp32(boardId);
  try {
    const result = await runSuite({ suite, targets: { dut: first }, artifacts: { "test-app": big }, signal: ac.signal });
    assert.is(result.outcome, "cancelled");
    assert.is(result.steps[0]?.errorCode, "CANCELLED");
    assert.ok(abortedAt > 0, "the flash reached the stub before the abort");
  } finally {
    sub.dispose();
    await first.close();
  }
  // The same board takes the next run.
  const second = await inventory.openEsp32(boardId);
  try {
    const result = await runSuite({ suite, targets: { dut: second }, artifacts: { "test-app": await image("after_cancel", UNITY) } });
    assert.is(result.steps[0]?.outcome, "pass");
    assert.ok(result.cases.some((c) => c.outcome === "pass"));
  } finally {
    await second.close();
  }
});

test("unplugging the board mid-flash is an infrastructure error: link closed during flash", async () => {
  const suite = await findSuite("esp32-unity");
  assert.ok(suite);
  const big = join(tmp.dir, "big.bin");
  await writeFile(big, buildEsp32Image({ appDesc: { projectName: "big", version: "9" }, scenario: UNITY, padTo: 512 * 1024, padSeed: 7 }));
  const device = inventory.virtualDevice(boardId)!;
  const target = await inventory.openEsp32(boardId);
  const sub = device.onModeChange((mode) => {
    if (mode === "stub") setTimeout(() => device.unplug(), 50);
  });
  try {
    const result = await runSuite({ suite, targets: { dut: target }, artifacts: { "test-app": big } });
    assert.is(result.outcome, "error");
    assert.is(result.error?.code, "LINK_CLOSED");
    assert.match(result.error?.message ?? "", /link closed during flash/);
    assert.equal(result.steps.map((s) => s.outcome), ["error", "skip", "skip"]);
  } finally {
    sub.dispose();
    await target.close();
    device.powerCycle();
  }
});

test.after(async () => {
  await inventory.close();
  await tmp.remove();
});

test.run();
