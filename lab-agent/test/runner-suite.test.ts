import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SuiteSchema, type SuiteInput } from "@hil/contracts";
import { makeTempDir } from "@hil/test-kit";
import { runSuite } from "../src/runner/run-suite.js";
import { ScriptedTarget, type UnityCaseSpec } from "./fixtures/scripted-unity-board.js";

const CASES: UnityCaseSpec[] = [
  { name: "adds numbers", group: "math", behaviour: "pass" },
  { name: "divides numbers", group: "math", behaviour: "fail" },
  { name: "reads a null pointer", group: "mem", behaviour: "panic" },
  { name: "is not ready", group: "misc", behaviour: "ignore" },
  { name: "after the crash", group: "misc", behaviour: "pass" },
];

function suite(steps: SuiteInput["steps"], extra: Partial<SuiteInput> = {}) {
  return SuiteSchema.parse({
    name: "unit-suite",
    roles: { dut: { profile: "esp32-virtual" } },
    artifacts: { app: { kind: "esp32-app" } },
    steps,
    ...extra,
  });
}

async function withBoard<T>(cases: UnityCaseSpec[], fn: (t: ScriptedTarget, app: string) => Promise<T>): Promise<T> {
  const tmp = await makeTempDir();
  const target = await ScriptedTarget.create("vesp-0", cases);
  try {
    const app = join(tmp.dir, "app.bin");
    await writeFile(app, Buffer.alloc(64, 0xe9));
    return await fn(target, app);
  } finally {
    await target.close();
    await tmp.remove();
  }
}

test("flash + expect + unity: per-case outcomes, panic fails its case with the backtrace, the run goes on", async () => {
  await withBoard(CASES, async (target, app) => {
    const steps: string[] = [];
    const result = await runSuite({
      suite: suite([
        { type: "flash", images: [{ artifact: "app" }] },
        { type: "expect", pattern: "main_task: Calling app_main\\(\\)" },
        { type: "unity", caseTimeout: "10s" },
        { type: "wait", duration: "10ms" },
      ]),
      targets: { dut: target },
      artifacts: { app },
      runId: "run-1",
      onStep: (s) => steps.push(`${s.type}:${s.outcome}`),
    });
    assert.is(target.flashed[0]?.offset, 0x10000, "esp32-app artifacts go to the app offset");
    assert.equal(steps, ["flash:pass", "expect:pass", "unity:fail", "wait:skip"]);
    assert.is(result.outcome, "fail");
    const byName = Object.fromEntries(result.cases.map((c) => [c.name, c]));
    assert.is(byName["adds numbers"]?.outcome, "pass");
    assert.is(byName["adds numbers"]?.group, "math");
    assert.is(byName["divides numbers"]?.outcome, "fail");
    assert.is(byName["divides numbers"]?.message, "Expected 2 Was 1");
    assert.is(byName["divides numbers"]?.line, 20);
    assert.is(byName["reads a null pointer"]?.outcome, "fail");
    assert.match(byName["reads a null pointer"]?.message ?? "", /^Guru Meditation Error: Core\s+0 panic'ed \(LoadProhibited\)/);
    assert.match(byName["reads a null pointer"]?.message ?? "", /Backtrace: 0x400d2f37:0x3ffb5e90/);
    assert.is(byName["is not ready"]?.outcome, "skip");
    assert.is(byName["after the crash"]?.outcome, "pass", "the case after a panic still runs");
    assert.ok(result.log.length > 20 && result.log.every((l) => l.run === "run-1"));
    const unity = result.steps[2]!;
    assert.ok(unity.firstSeq !== undefined && unity.lastSeq !== undefined && unity.lastSeq > unity.firstSeq);
  });
});

test("keepLog false (the agent's runs): every line goes through onLog, none stays in the result, the cases are the same", async () => {
  await withBoard(CASES, async (target, app) => {
    const streamed: string[] = [];
    const result = await runSuite({
      suite: suite([{ type: "flash", images: [{ artifact: "app" }] }, { type: "unity", caseTimeout: "10s" }]),
      targets: { dut: target },
      artifacts: { app },
      runId: "run-1",
      onLog: (l) => streamed.push(l.text),
      keepLog: false,
    });
    assert.equal(result.log, []);
    assert.ok(streamed.length > 20, `${streamed.length} lines streamed`);
    assert.is(result.cases.find((c) => c.name === "divides numbers")?.message, "Expected 2 Was 1");
  });
});

test("selected cases by name and number; a name not in the menu is an error of that case", async () => {
  await withBoard(CASES, async (target, app) => {
    const result = await runSuite({
      suite: suite([{ type: "flash", images: [{ artifact: "app" }] }, { type: "unity", cases: [1, "is not ready", "no such case"] }]),
      targets: { dut: target },
      artifacts: { app },
    });
    assert.equal(
      result.cases.map((c) => `${c.name}:${c.outcome}`),
      ["no such case:error", "adds numbers:pass", "is not ready:skip"],
    );
    assert.is(result.outcome, "fail");
    assert.is(result.steps[1]?.errorCode, "SUITE_INVALID");
  });
});

test("a hung case is an error (timeout) and the board is reset before the next case", async () => {
  const cases: UnityCaseSpec[] = [
    { name: "hangs forever", group: "x", behaviour: "hang" },
    { name: "runs after reset", group: "x", behaviour: "pass" },
  ];
  await withBoard(cases, async (target, app) => {
    const result = await runSuite({
      suite: suite([{ type: "flash", images: [{ artifact: "app" }] }, { type: "unity", caseTimeout: "1s" }]),
      targets: { dut: target },
      artifacts: { app },
    });
    assert.is(result.cases[0]?.outcome, "error");
    assert.match(result.cases[0]?.message ?? "", /no Unity result within 1 s/);
    assert.is(result.cases[1]?.outcome, "pass");
    assert.equal(target.resets, ["run"]);
    assert.is(result.steps[1]?.errorCode, "STEP_TIMEOUT");
    assert.is(result.outcome, "fail", "a step timeout is not an infrastructure error");
  });
});

test("expect timeout is a STEP_TIMEOUT error of the step; later steps are skipped", async () => {
  await withBoard(CASES, async (target, app) => {
    const result = await runSuite({
      suite: suite([
        { type: "flash", images: [{ artifact: "app" }] },
        { type: "expect", pattern: "never printed", timeout: "500ms" },
        { type: "send", text: "x" },
      ]),
      targets: { dut: target },
      artifacts: { app },
    });
    assert.equal(result.steps.map((s) => s.outcome), ["pass", "error", "skip"]);
    assert.is(result.steps[1]?.errorCode, "STEP_TIMEOUT");
    assert.is(result.steps[1]?.timeoutMs, 500, "the step says what time it was allowed");
    assert.match(result.steps[1]?.message ?? "", /never printed/);
    assert.is(result.outcome, "fail");
    assert.is(result.error?.code, "STEP_TIMEOUT");
  });
});

test("link closed during flash is an infrastructure error, not a test failure", async () => {
  await withBoard(CASES, async (target, app) => {
    target.unplugDuringFlash = true;
    const result = await runSuite({
      suite: suite([{ type: "flash", images: [{ artifact: "app" }] }, { type: "unity" }]),
      targets: { dut: target },
      artifacts: { app },
    });
    assert.is(result.outcome, "error");
    assert.is(result.error?.code, "LINK_CLOSED");
    assert.match(result.error?.message ?? "", /link closed during flash/);
    assert.equal(result.steps.map((s) => s.outcome), ["error", "skip"]);
  });
});

test("missing artifact and android steps on an ESP32 are clear step errors", async () => {
  await withBoard(CASES, async (target) => {
    const r1 = await runSuite({ suite: suite([{ type: "flash", images: [{ artifact: "app" }] }]), targets: { dut: target }, artifacts: {} });
    assert.is(r1.steps[0]?.errorCode, "ARTIFACT_MISSING");
    assert.match(r1.steps[0]?.message ?? "", /--artifact app=FILE/);
    const r2 = await runSuite({
      suite: suite([{ type: "android.shell", command: "true" }]),
      targets: { dut: target },
      artifacts: {},
    });
    assert.is(r2.steps[0]?.outcome, "error");
    assert.is(r2.steps[0]?.errorCode, "STEP_UNSUPPORTED");
    assert.is(r2.steps[0]?.timeoutMs, undefined, "a step refused before it starts had no time");
    assert.match(r2.steps[0]?.message ?? "", /android\.shell.*not supported/);
  });
});

test("abort cancels a waiting step promptly and skips the rest", async () => {
  await withBoard(CASES, async (target) => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const result = await runSuite({
      suite: suite([{ type: "expect", pattern: "never", timeout: "5m" }, { type: "wait", duration: "1s" }]),
      targets: { dut: target },
      artifacts: {},
      signal: ac.signal,
    });
    assert.is(result.outcome, "cancelled");
    assert.equal(result.steps.map((s) => `${s.outcome}:${s.errorCode ?? ""}`), ["error:CANCELLED", "skip:"]);
    // the board is still usable afterwards
    target.device.boot();
    await target.console.expect(/Press ENTER/, { timeoutMs: 5000 });
  });
});

test("the suite's time budget ends a long step with timedOut", async () => {
  await withBoard(CASES, async (target) => {
    const result = await runSuite({
      suite: suite([{ type: "wait", duration: "1m" }]),
      targets: { dut: target },
      artifacts: {},
      timeoutMs: 300,
    });
    assert.is(result.outcome, "fail");
    assert.is(result.timedOut, true);
    assert.is(result.steps[0]?.errorCode, "STEP_TIMEOUT");
    assert.match(result.steps[0]?.message ?? "", /time budget/);
  });
});

test.run();
