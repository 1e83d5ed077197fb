import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildEsp32Image, buildFlashLayout, readEsp32Image } from "../src/esp32-image/index.js";
import { loadScenario, loadScenarioManifest, type ScenarioSpecInput } from "../src/virtual/esp32/firmware/index.js";
import { FirmwareBench } from "./firmware-bench.js";

const APP = { projectName: "unit_tests", version: "0.9.0" };

async function withScenario(scenario: ScenarioSpecInput, fn: (b: FirmwareBench) => Promise<void>): Promise<void> {
  const bench = new FirmwareBench(buildFlashLayout({ app: buildEsp32Image({ appDesc: APP, scenario }) }));
  try {
    bench.boot();
    await bench.waitFor(/main_task: Calling app_main\(\)\r\n/);
    await fn(bench);
  } finally {
    bench.stop();
  }
}

// pytest-embedded's regexes (PROTOCOLS.md §D.3)
const CASE_RE = /(?<file>.+):(?<line>\d+):(?<name>[^\r\n]+):(?<result>PASS|FAIL|IGNORE)(?::(?<message>.+))?/g;
const SUMMARY_RE = /^[-]+\s*(\d+) Tests (\d+) Failures (\d+) Ignored\s*(?<result>OK|FAIL)/m;

test("unity: menu on enter, run by index, by name, by tag and all, in Unity's format", async () => {
  await withScenario({ kind: "unity" }, async (b) => {
    await b.waitFor(/\r\n\r\nPress ENTER to see the list of tests\.\r\n/);
    b.send("\n");
    const menu = await b.waitFor(/Here's the test menu, pick your combo:\r\n([\s\S]*?)\r\n\r\nEnter test for running\.\r\n/);
    const items = [...(menu[1] ?? "").matchAll(/\((\d+)\)\s"(.+)"\s(\[.+\])+/g)];
    assert.is(items.length, 5);
    assert.is(items[0]?.[2], "gpio toggles output level");
    assert.match(menu[0], '(3)\t"wifi connects to access point" [wifi][timeout=30]\r\n');

    let from = b.plain.length;
    b.send("1\n");
    let seen = await b.waitFor(/Enter next test, or 'enter' to see menu\r\n/, 10_000, from);
    let chunk = b.plain.slice(from);
    assert.match(chunk, /^Running gpio toggles output level\.\.\.\r\nmain\/test_gpio\.c:21:gpio toggles output level:PASS\r\nTest ran in \d+ms\r\n\r\n-----------------------\r\n1 Tests 0 Failures 0 Ignored \r\nOK\r\n/);
    assert.ok(seen);

    from = b.plain.length;
    b.send('"wifi connects to access point"\n');
    await b.waitFor(/Enter next test, or 'enter' to see menu\r\n/, 10_000, from);
    chunk = b.plain.slice(from);
    assert.match(chunk, "main/test_wifi.c:57:wifi connects to access point:FAIL: Expected 0 Was 257\r\n");
    assert.is(SUMMARY_RE.exec(chunk)?.groups?.result, "FAIL");

    from = b.plain.length;
    b.send("[nvs]\r\n");
    await b.waitFor(/Enter next test, or 'enter' to see menu\r\n/, 10_000, from);
    assert.match(b.plain.slice(from), /nvs stores and reads a blob:PASS[\s\S]*1 Tests 0 Failures 0 Ignored/);

    from = b.plain.length;
    b.send("*\n");
    await b.waitFor(/Enter next test, or 'enter' to see menu\r\n/, 10_000, from);
    chunk = b.plain.slice(from);
    const results = [...chunk.matchAll(CASE_RE)].map((m) => [m.groups?.name, m.groups?.result]);
    assert.equal(results, [
      ["gpio toggles output level", "PASS"],
      ["nvs stores and reads a blob", "PASS"],
      ["wifi connects to access point", "FAIL"],
      ["adc reading within range", "PASS"],
      ["spi flash erase sector", "FAIL"],
    ]);
    const summary = SUMMARY_RE.exec(chunk);
    assert.equal([summary?.[1], summary?.[2], summary?.[3], summary?.groups?.result], ["5", "2", "0", "FAIL"]);
    assert.not.match(chunk, "Test ran in");
  });
});

test("unity: a case that panics prints Guru Meditation mid-case and the board reboots", async () => {
  const cases = [
    { name: "first passes", tags: "[a]" },
    { name: "second crashes", tags: "[a]", outcome: "panic" as const, message: "StoreProhibited" },
  ];
  await withScenario({ kind: "unity", cases }, async (b) => {
    await b.waitFor(/Press ENTER/);
    const from = b.plain.length;
    b.send("*\n");
    await b.waitFor(/Running second crashes\.\.\.\r\nGuru Meditation Error: Core +0 panic'ed \(StoreProhibited\)[\s\S]*Rebooting\.\.\.\r\n[\s\S]*rst:0xc \(SW_CPU_RESET\)/, 10_000, from);
    assert.match(b.plain.slice(from), "first passes:PASS");
    assert.not.match(b.plain.slice(from), "Tests 0 Failures");
    assert.equal(b.reboots.map((r) => r.name), ["SW_CPU_RESET"]);
    await b.waitFor(/Press ENTER to see the list of tests/, 10_000, b.plain.indexOf("SW_CPU_RESET"));
  });
});

test("panic scenario: Guru Meditation, register dump, backtrace, ELF SHA, Rebooting..., SW_CPU_RESET", async () => {
  await withScenario({ kind: "panic", afterMs: 30 }, async (b) => {
    const m = await b.waitFor(/Guru Meditation Error: Core +0 panic'ed \(LoadProhibited\)\. Exception was unhandled\.\r\n[\s\S]*?Core +0 register dump:\r\nPC +: 0x[0-9a-f]{8}[\s\S]*?Backtrace: (0x[0-9a-f]{8}:0x[0-9a-f]{8} ?)+\r\n[\s\S]*?ELF file SHA256: [0-9a-f]{16}\r\n\r\nRebooting\.\.\.\r\n/);
    assert.ok(m);
    await b.waitFor(/rst:0xc \(SW_CPU_RESET\),boot:0x13 \(SPI_FAST_FLASH_BOOT\)/);
    assert.is(b.reboots[0]?.code, 0xc);
    // the image still holds the panic scenario: it panics again after the new boot
    await b.waitFor(/Guru Meditation[\s\S]*Guru Meditation/);
  });
});

test("console: prompt, echo, version, unknown command, restart reboots", async () => {
  await withScenario({ kind: "console", commands: { status: "all good" } }, async (b) => {
    await b.waitFor(/Type 'help' to get the list of commands\.[\s\S]*esp32> $/);
    let from = b.plain.length;
    b.send("echo hello lab\r");
    await b.waitFor(/echo hello lab\r\nhello lab\r\nesp32> $/, 10_000, from);
    from = b.plain.length;
    b.send("version\n");
    await b.waitFor(/IDF Version:v5\.2\.1\r\n[\s\S]*App: unit_tests 0\.9\.0\r\nesp32> $/, 10_000, from);
    from = b.plain.length;
    b.send("status\n");
    await b.waitFor(/all good\r\nesp32> $/, 10_000, from);
    from = b.plain.length;
    b.send("bogus\n");
    await b.waitFor(/Unrecognized command\r\nesp32> $/, 10_000, from);
    b.send("restart\n");
    await b.waitFor(/cmd_system_common: Restarting[\s\S]*rst:0xc \(SW_CPU_RESET\)/);
  });
});

test("console: a command typed before app_main waits in the UART FIFO and is answered", async () => {
  const bench = new FirmwareBench(buildFlashLayout({ app: buildEsp32Image({ appDesc: APP, scenario: { kind: "console" } }) }));
  try {
    bench.boot();
    bench.send("echo early bird\n");
    await bench.waitFor(/esp32> echo early bird\r\nearly bird\r\nesp32> $/);
  } finally {
    bench.stop();
  }
});

test("logger: periodic coloured IDF lines with rising timestamps", async () => {
  await withScenario({ kind: "logger", intervalMs: 20 }, async (b) => {
    await b.waitFor(/app: tick 3\r\n/);
    const stamps = [...b.plain.matchAll(/I \((\d+)\) app: tick (\d+)\r\n/g)].map((m) => Number(m[1]));
    assert.ok(stamps.length >= 3);
    for (let i = 1; i < stamps.length; i++) assert.ok((stamps[i] ?? 0) >= (stamps[i - 1] ?? 0));
    assert.match(b.output, /\x1b\[0;32mI \(\d+\) app: tick 1\x1b\[0m\r\n/);
  });
});

test("hang: task watchdog report repeats; bootloop: resets before app_main every time", async () => {
  await withScenario({ kind: "hang", afterMs: 10, watchdogMs: 60 }, async (b) => {
    await b.waitFor(/E \(\d+\) task_wdt: Task watchdog got triggered\. The following tasks did not reset the watchdog in time:[\s\S]*task_wdt: Task watchdog got triggered/);
    assert.match(b.plain, "task_wdt: CPU 0: main");
    assert.is(b.reboots.length, 0);
  });
  const bench = new FirmwareBench(buildFlashLayout({ app: buildEsp32Image({ appDesc: APP, scenario: { kind: "bootloop", afterMs: 10, cause: "brownout" } }) }));
  try {
    bench.boot();
    await bench.waitFor(/Brownout detector was triggered[\s\S]*rst:0xf \(RTCWDT_BROWN_OUT_RESET\)[\s\S]*Brownout detector was triggered[\s\S]*rst:0xf/);
    assert.match(bench.plain, "Project name:     unit_tests");
    assert.not.match(bench.plain, "Calling app_main()");
  } finally {
    bench.stop();
  }
});

test("scripted lines and scenario files: YAML scenario, manifest with names and files, clear errors", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hil-scenario-"));
  try {
    await writeFile(join(dir, "custom.yaml"), "kind: idle\nlines:\n  - afterMs: 10\n    level: W\n    tag: sensor\n    message: humidity high\n");
    const custom = loadScenario(join(dir, "custom.yaml"));
    assert.is(custom.kind, "idle");
    await withScenario(custom, async (b) => {
      await b.waitFor(/W \(\d+\) sensor: humidity high\r\n/);
    });
    assert.is(loadScenario("unity").kind, "unity");
    assert.throws(() => loadScenario("nonsense"), /neither a built-in \(idle, logger, console, unity, panic, hang, bootloop, ota, provisioning\)/);
    await writeFile(join(dir, "bad.json"), JSON.stringify({ kind: "logger", intervalMs: "fast" }));
    assert.throws(() => loadScenario(join(dir, "bad.json")), /bad\.json is not a valid scenario: intervalMs:/);

    const sha = readEsp32Image(buildEsp32Image({ appDesc: APP })).sha256;
    await writeFile(join(dir, "manifest.yaml"), `images:\n  ${sha}: panic\n  ${"a".repeat(64)}: custom.yaml\n`);
    const manifest = loadScenarioManifest(join(dir, "manifest.yaml"));
    assert.is(manifest.images[sha]?.kind, "panic");
    assert.is(manifest.images["a".repeat(64)]?.kind, "idle");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
