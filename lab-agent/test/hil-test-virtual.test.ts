// `hil test` end to end: the CLI process (from sources) flashes and tests virtual ESP32 boards that
// this test process hosts behind real RFC 2217 servers (and one behind a PTY with a control socket).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir, spawnHil } from "@hil/scheduler/testing";
import { buildEsp32Image } from "../src/esp32-image/index.js";
import { Rfc2217Server } from "../src/links/rfc2217/rfc2217-server.js";
import type { ScenarioSpecInput } from "../src/virtual/esp32/firmware/scenario-spec.js";
import { startVirtualEsp32Fleet } from "../src/virtual/esp32/fleet.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";

const tmp = await makeTempDir("hil-test-cli-");
const board = new VirtualEsp32({ id: "cli-0" });
const server = new Rfc2217Server(board, { port: 0 });
const { url } = await server.listen();
board.onUnplug(() => server.disconnectClients());
board.powerCycle();

async function image(name: string, scenario: ScenarioSpecInput, padTo?: number): Promise<string> {
  const path = join(tmp.dir, `${name}.bin`);
  await writeFile(path, buildEsp32Image({ appDesc: { projectName: name, version: "3.1.4" }, scenario, ...(padTo ? { padTo } : {}) }));
  return path;
}

async function hilTest(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawnHil(["test", ...args]);
  try {
    const code = await Promise.race([p.exited, new Promise<null>((_, rej) => setTimeout(() => rej(new Error(`hil test hung:\n${p.output()}`)), 120_000))]);
    return { code, out: p.output() };
  } finally {
    await p.stop();
  }
}

function testcases(xml: string): { name: string; body: string }[] {
  return [...xml.matchAll(/<testcase name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => ({ name: m[1] ?? "", body: m[2] ?? "" }));
}

test("esp32-smoke passes: exit 0, JUnit with one testcase per step and no failures", async () => {
  const app = await image("smoke", { kind: "console" });
  const out = join(tmp.dir, "smoke");
  const junit = join(tmp.dir, "smoke.xml");
  const r = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-smoke", "--artifact", `app=${app}`, "--out", out, "--junit", junit, "--quiet"]);
  assert.is(r.code, 0, r.out);
  const xml = await readFile(junit, "utf8");
  assert.match(xml, /<testsuite name="esp32-smoke" tests="7" failures="0" errors="0" skipped="0"/);
  assert.equal(testcases(xml).map((t) => t.name), ["01 flash app", "02 reset (run)", "03 ROM boot banner", "04 app started", "05 no panic while idle", "06 ask for the version", "07 console answers"]);
  const log = await readFile(join(out, "console.log"), "utf8");
  assert.match(log, /main_task: Calling app_main\(\)/);
});

test("esp32-unity: exit 1, the right passes and failures, the panic case carries Guru Meditation and the backtrace", async () => {
  const app = await image("unity", {
    kind: "unity",
    cases: [
      { name: "gpio toggles", tags: "[gpio]" },
      { name: "wifi connects", tags: "[wifi]", outcome: "fail", message: "Expected 0 Was 257" },
      { name: "null pointer", tags: "[mem]", outcome: "panic", message: "StoreProhibited" },
      { name: "nvs blob", tags: "[nvs]" },
    ],
  });
  const out = join(tmp.dir, "unity");
  const r = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-unity", "--artifact", `test-app=${app}`, "--out", out, "--quiet"]);
  assert.is(r.code, 1, r.out);
  const xml = await readFile(join(out, "junit.xml"), "utf8");
  assert.match(xml, /<testsuite name="esp32-unity" tests="6" failures="2" errors="0"/);
  const cases = Object.fromEntries(testcases(xml).map((t) => [t.name, t.body]));
  assert.is(cases["gpio toggles"], "");
  assert.is(cases["nvs blob"], "", "the case after the panic passed");
  assert.match(cases["wifi connects"] ?? "", /<failure message="Expected 0 Was 257"/);
  assert.match(cases["null pointer"] ?? "", /<failure message="Guru Meditation Error: Core\s+0 panic&apos;ed \(StoreProhibited\)/);
  assert.match(cases["null pointer"] ?? "", /Backtrace: 0x[0-9a-f]+:0x[0-9a-f]+/);
  assert.match(r.out, /FAIL esp32-unity/);
});

test("pulling the board mid-flash: exit 2 and 'link closed during flash', not a test failure", async () => {
  const app = await image("big", { kind: "idle" }, 768 * 1024);
  const sub = board.onModeChange((mode) => {
    if (mode === "stub") setTimeout(() => board.unplug(), 100);
  });
  try {
    const r = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-smoke", "--artifact", `app=${app}`, "--out", join(tmp.dir, "unplug"), "--quiet"]);
    assert.is(r.code, 2, r.out);
    assert.match(r.out, /link closed during flash/);
    const xml = await readFile(join(tmp.dir, "unplug", "junit.xml"), "utf8");
    assert.match(xml, /<error message="link closed during flash[^"]*" type="LINK_CLOSED"/);
    assert.match(xml, /failures="0"/);
  } finally {
    sub.dispose();
    board.powerCycle();
  }
});

test("usage errors exit 64 before touching the board", async () => {
  const missing = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-unity", "--out", join(tmp.dir, "u1")]);
  assert.is(missing.code, 64, missing.out);
  assert.match(missing.out, /needs --artifact test-app=FILE/);
  const badArtifact = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-smoke", "--artifact", "app"]);
  assert.is(badArtifact.code, 64, badArtifact.out);
});

test("Ctrl-C during a step: exit 3, the run recorded as cancelled (suite given as a file)", async () => {
  const suiteFile = join(tmp.dir, "wait-forever.yaml");
  await writeFile(
    suiteFile,
    ["name: wait-forever", "roles:", "  dut: { profile: esp32-virtual }", "steps:", "  - type: reset", "  - type: expect", "    pattern: never printed", "    timeout: 5m", ""].join("\n"),
  );
  const out = join(tmp.dir, "cancel");
  const p = spawnHil(["test", "--port", url, "--profile", "esp32-virtual", "--suite", suiteFile, "--out", out]);
  try {
    await p.waitFor(/\| rst:0x/, 60_000);
    p.child.kill("SIGINT");
    const code = await Promise.race([p.exited, new Promise<null>((_, rej) => setTimeout(() => rej(new Error(`no exit after SIGINT:\n${p.output()}`)), 30_000))]);
    assert.is(code, 3, p.output());
    const json = JSON.parse(await readFile(join(out, "result.json"), "utf8")) as { outcome: string };
    assert.is(json.outcome, "cancelled");
  } finally {
    await p.stop();
  }
});

test("a PTY board resets through its control socket: esp32-smoke passes over /dev/pts", async () => {
  const fleet = await startVirtualEsp32Fleet({ count: 1, ptyDir: tmp.dir, idPrefix: "pty" });
  try {
    const pty = fleet.boards[0]!.ptyPath!;
    const app = await image("smoke_pty", { kind: "console" });
    const r = await hilTest(["--port", pty, "--profile", "esp32-virtual", "--suite", "esp32-smoke", "--artifact", `app=${app}`, "--out", join(tmp.dir, "pty"), "--quiet"]);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, /control socket .*\.ctl/);
  } finally {
    await fleet.stop();
  }
});

test.after(async () => {
  await server.close();
  board.dispose();
  await tmp.remove();
});

test.run();
