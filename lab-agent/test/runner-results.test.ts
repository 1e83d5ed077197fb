import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SuiteSchema } from "@hil/contracts";
import { makeTempDir } from "@hil/test-kit";
import { writeResults } from "../src/results/write-results.js";
import { runSuite } from "../src/runner/run-suite.js";
import { ScriptedTarget } from "./fixtures/scripted-unity-board.js";

test("junit.xml, result.json and console.log from a Unity run", async () => {
  const tmp = await makeTempDir();
  const target = await ScriptedTarget.create("vesp-1", [
    { name: "passes", group: "g", behaviour: "pass" },
    { name: "fails", group: "g", behaviour: "fail" },
    { name: "crashes", group: "g", behaviour: "panic" },
  ]);
  try {
    const app = join(tmp.dir, "app.bin");
    await writeFile(app, Buffer.alloc(16));
    const suite = SuiteSchema.parse({
      name: "results-suite",
      roles: { dut: { profile: "esp32-virtual" } },
      artifacts: { app: { kind: "esp32-app" } },
      steps: [{ type: "flash", images: [{ artifact: "app" }] }, { type: "unity" }],
    });
    const result = await runSuite({ suite, targets: { dut: target }, artifacts: { app }, runId: "r-42" });
    const out = join(tmp.dir, "out");
    const files = await writeResults(out, result, { suite: suite.name, runId: "r-42", boards: { dut: "vesp-1" } });
    const xml = await readFile(files.junit, "utf8");
    assert.match(xml, /<testsuite name="results-suite" tests="4" failures="2" errors="0" skipped="0"/);
    assert.match(xml, /<testcase name="01 flash app" /);
    assert.match(xml, /<testcase name="fails" classname="g"[^>]*>\s*<failure message="Expected 2 Was 1"/);
    assert.match(xml, /<testcase name="crashes"[^>]*>\s*<failure message="Guru Meditation Error: Core  0 panic&apos;ed \(LoadProhibited\)[^"]*"[^>]*>[^<]*Backtrace: 0x400d2f37/);
    // the failing case's own console lines, not the whole log
    const crashOut = /<testcase name="crashes"[\s\S]*?<system-out>([\s\S]*?)<\/system-out>/.exec(xml)?.[1] ?? "";
    assert.match(crashOut, /Running crashes\.\.\./);
    assert.not.match(crashOut, /Running fails\.\.\./);
    const json = JSON.parse(await readFile(files.json, "utf8")) as { outcome: string; cases: unknown[]; boards: Record<string, string> };
    assert.is(json.outcome, "fail");
    assert.is(json.cases.length, 3);
    assert.equal(json.boards, { dut: "vesp-1" });
    const log = (await readFile(files.log, "utf8")).trimEnd().split("\n");
    assert.is(log.length, result.log.length);
    assert.match(log[0]!, /^\d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \d+\.\d{3} /);
    assert.ok(log.some((l) => /:\x1b\[42mPASS\x1b\[0m$/.test(l)), "ANSI is kept in the raw log");
  } finally {
    await target.close();
    await tmp.remove();
  }
});

test.run();
