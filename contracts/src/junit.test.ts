import { test } from "uvu";
import * as assert from "uvu/assert";
import { toJUnitXml, xmlEscape } from "./junit.js";
import type { LogLine, StepResult } from "./index.js";

const line = (seq: number, text: string): LogLine => ({ board: "b", run: "r", seq, mono: seq, wall: 1_700_000_000_000 + seq, stream: "serial", text });

const steps: StepResult[] = [
  { index: 0, type: "flash", name: "flash app", role: "dut", outcome: "pass", startedAt: 1, durationMs: 1500, cases: [], firstSeq: 0, lastSeq: 1 },
  {
    index: 1,
    type: "unity",
    name: "unity",
    role: "dut",
    outcome: "fail",
    startedAt: 2,
    durationMs: 900,
    cases: [
      { name: "adds", group: "math", outcome: "pass", durationMs: 10 },
      { name: "divides", group: "math", outcome: "fail", message: "Expected 2 Was 1", durationMs: 12, file: "test_math.c", line: 42, firstSeq: 3, lastSeq: 4 },
      { name: "waits", outcome: "error", message: "case timed out", durationMs: 5000 },
      { name: "later", outcome: "skip", durationMs: 0 },
    ],
  },
  { index: 2, type: "expect", name: "banner", role: "dut", outcome: "skip", startedAt: 3, durationMs: 0, cases: [] },
];

test("one testcase per case or per step, failures and errors kept apart", () => {
  const xml = toJUnitXml({ name: "esp32-unity", runId: "r1", steps, logLines: [line(3, "Running divides..."), line(4, "test_math.c:42:divides:FAIL: Expected 2 Was 1")] });
  assert.match(xml, /<testsuite name="esp32-unity" tests="6" failures="1" errors="1" skipped="2"/);
  assert.match(xml, /<testcase name="01 flash app" classname="esp32-unity.dut" time="1.500"\/>/);
  assert.match(xml, /<testcase name="divides" classname="math" time="0.012" file="test_math.c" line="42">\s*<failure message="Expected 2 Was 1"/);
  assert.match(xml, /<testcase name="waits"[^>]*>\s*<error /);
  // the failing case carries its own console lines
  assert.match(xml, /<failure[^>]*>[^<]*<\/failure>\s*<system-out>\[3\] Running divides\.\.\.\n\[4\] test_math\.c:42/);
  assert.equal((xml.match(/<testsuite /g) ?? []).length, 1);
});

test("a run's cases list (every step's cases, flattened) does not count them twice; a case of no step is kept", () => {
  const flattened = steps.flatMap((s) => s.cases);
  const loose = { name: "merged", group: "other", outcome: "pass" as const, durationMs: 1 };
  const xml = toJUnitXml({ name: "esp32-unity", runId: "r1", steps, cases: [...flattened, loose] });
  assert.match(xml, /<testsuite name="esp32-unity" tests="7" failures="1" errors="1" skipped="2"/);
  assert.is(xml.match(/name="divides"/g)?.length, 1);
  assert.is(xml.match(/name="merged"/g)?.length, 1);
});

test("a step that errored with no failing case still shows up", () => {
  const broken: StepResult = { ...steps[1]!, outcome: "error", message: "link closed", errorCode: "LINK_CLOSED", cases: [{ name: "adds", outcome: "pass", durationMs: 1 }] };
  const xml = toJUnitXml({ name: "s", steps: [broken] });
  assert.match(xml, /<testcase name="02 unity"[^>]*>\s*<error message="link closed" type="LINK_CLOSED">/);
});

test("escapes markup, strips ANSI and control characters", () => {
  assert.is(xmlEscape('a<b & "c"\x1b[0;31m red\x1b[0m\x07'), "a&lt;b &amp; &quot;c&quot; red");
  const xml = toJUnitXml({ name: "s", steps: [], logLines: [line(1, "\x1b[0;32mI (1) x: <ok>\x1b[0m\x00")] });
  assert.match(xml, /<system-out>\[1\] I \(1\) x: &lt;ok&gt;<\/system-out>/);
  assert.not.match(xml, /\x1b|\x00/);
});

test.run();
