// `hil test` end to end, results: the CLI process (from sources) flashes and tests a virtual ESP32
// that this test process hosts behind a real RFC 2217 server.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startHilTestBench } from "./fixtures/hil-test-bench.js";

const bench = await startHilTestBench("cli-0");
const { url, board, image, hilTest } = bench;
const tmp = { dir: bench.dir };

function testcases(xml: string): { name: string; body: string }[] {
  return [...xml.matchAll(/<testcase name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => ({ name: m[1] ?? "", body: m[2] ?? "" }));
}

test("esp32-smoke passes for any clean app, console or not: exit 0, JUnit with one testcase per step", async () => {
  for (const kind of ["idle", "console"] as const) {
    const app = await image(`smoke_${kind}`, { kind });
    const out = join(tmp.dir, `smoke-${kind}`);
    const junit = join(tmp.dir, `smoke-${kind}.xml`);
    const r = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-smoke", "--artifact", `app=${app}`, "--out", out, "--junit", junit, "--quiet"]);
    assert.is(r.code, 0, `${kind}: ${r.out}`);
    const xml = await readFile(junit, "utf8");
    assert.match(xml, /<testsuite name="esp32-smoke" tests="6" failures="0" errors="0" skipped="0"/);
    assert.equal(testcases(xml).map((t) => t.name), ["01 flash app", "02 reset (run)", "03 ROM boot banner", "04 bootloader loads the app", "05 app started", "06 no panic and no reset for 5 s"]);
    const log = await readFile(join(out, "console.log"), "utf8");
    assert.match(log, /main_task: Calling app_main\(\)/);
  }
});

test("esp32-console needs the console: a console app passes, an app without one fails at the console's answer (exit 1)", async () => {
  const withConsole = await image("console_app", { kind: "console" });
  const ok = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-console", "--artifact", `app=${withConsole}`, "--out", join(tmp.dir, "console-ok"), "--quiet"]);
  assert.is(ok.code, 0, ok.out);
  const without = await image("quiet_app", { kind: "idle" });
  const junit = join(tmp.dir, "console-missing.xml");
  const bad = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-console", "--artifact", `app=${without}`, "--out", join(tmp.dir, "console-missing"), "--junit", junit, "--quiet"]);
  assert.is(bad.code, 1, bad.out);
  assert.match(await readFile(junit, "utf8"), /<testcase name="06 console answers"[^>]*>\s*<(failure|error)/);
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

test.after(async () => {
  await bench.stop();
});

test.run();
