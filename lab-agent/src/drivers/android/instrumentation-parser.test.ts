import { test } from "uvu";
import * as assert from "uvu/assert";
import { LabError, type CaseResult } from "@hil/contracts";
import { runInstrumentation, missingInstrumentation, type InstrumentationScript } from "../../virtual/android/instrumentation.js";
import { InstrumentationParser } from "./instrumentation-parser.js";
import { InstrumentationRunError } from "./instrumentation-run-error.js";

const RUNNER = "com.x.test/androidx.test.runner.AndroidJUnitRunner";

/** Bundles the way am prints them: keys sorted, one line each, then the code line. */
function status(code: number, bundle: Record<string, string | number>): string {
  const keys = Object.keys(bundle).sort();
  return `${keys.map((k) => `INSTRUMENTATION_STATUS: ${k}=${bundle[k]}\n`).join("")}INSTRUMENTATION_STATUS_CODE: ${code}\n`;
}
const t = (cls: string, name: string, current: number, total: number, extra: Record<string, string> = {}) => ({ class: cls, current, id: "AndroidJUnitRunner", numtests: total, test: name, ...extra });

const PASS_FAIL = [
  status(1, t("com.x.FooTest", "opens", 1, 5, { stream: "\ncom.x.FooTest:" })),
  status(0, t("com.x.FooTest", "opens", 1, 5, { stream: "." })),
  status(1, t("com.x.FooTest", "badPin", 2, 5, { stream: "" })),
  status(-2, t("com.x.FooTest", "badPin", 2, 5, { stack: "java.lang.AssertionError: expected:<1> but was:<2>\n\tat com.x.FooTest.badPin(FooTest.java:42)", stream: "\nError in badPin(com.x.FooTest):\njava.lang.AssertionError: expected:<1> but was:<2>\n\tat com.x.FooTest.badPin(FooTest.java:42)" })),
  status(1, t("com.x.FooTest", "later", 3, 5, { stream: "" })),
  status(-3, t("com.x.FooTest", "later", 3, 5, { stream: "" })),
  status(1, t("com.x.BarTest", "onlyOnTablets", 4, 5, { stream: "\ncom.x.BarTest:" })),
  status(-4, t("com.x.BarTest", "onlyOnTablets", 4, 5, { stack: "org.junit.AssumptionViolatedException: got: <false>, expected: is <true>", stream: "" })),
  status(1, t("com.x.BarTest", "legacy", 5, 5, { stream: "" })),
  status(-1, t("com.x.BarTest", "legacy", 5, 5, { stack: "java.lang.RuntimeException: boom", stream: "" })),
  "INSTRUMENTATION_RESULT: stream=\n\nTime: 0.072\nThere was 1 failure:\n1) badPin(com.x.FooTest)\n\nFAILURES!!!\nTests run: 5,  Failures: 1\n\n\n",
  "INSTRUMENTATION_CODE: -1\n",
].join("");

function parseAll(text: string, split: (s: string) => string[]): { emitted: CaseResult[][]; parser: InstrumentationParser } {
  const parser = new InstrumentationParser({ runner: RUNNER });
  return { emitted: split(text).map((c) => parser.feed(c)), parser };
}

test("pass, fail with its stack, ignored, assumption failure and error become CaseResults", () => {
  const { parser } = parseAll(PASS_FAIL, (s) => [s]);
  const s = parser.finish();
  assert.equal(
    s.cases.map((c) => [c.group, c.name, c.outcome]),
    [
      ["com.x.FooTest", "opens", "pass"],
      ["com.x.FooTest", "badPin", "fail"],
      ["com.x.FooTest", "later", "skip"],
      ["com.x.BarTest", "onlyOnTablets", "skip"],
      ["com.x.BarTest", "legacy", "error"],
    ],
  );
  assert.is(s.cases[1]!.message, "java.lang.AssertionError: expected:<1> but was:<2>\n\tat com.x.FooTest.badPin(FooTest.java:42)");
  assert.match(s.cases[3]!.message!, /^assumption failed: org\.junit\.AssumptionViolatedException/);
  assert.is(s.cases[4]!.message, "java.lang.RuntimeException: boom");
  assert.ok(s.complete);
  assert.is(s.sessionCode, -1);
  assert.match(s.summary, /FAILURES!!!\nTests run: 5, {2}Failures: 1$/);
});

test("fed byte by byte, each test is emitted the moment its status code line ends", () => {
  const { emitted, parser } = parseAll(PASS_FAIL, (s) => [...s]);
  const at = emitted.flatMap((cases, i) => cases.map((c) => ({ i, c })));
  assert.is(at.length, 5);
  // "opens" is out as soon as its OK code line is complete, long before the run ends.
  const okLineEnd = PASS_FAIL.indexOf("INSTRUMENTATION_STATUS_CODE: 0\n") + "INSTRUMENTATION_STATUS_CODE: 0\n".length - 1;
  assert.is(at[0]!.i, okLineEnd);
  assert.equal(parser.finish().cases.map((c) => c.outcome), ["pass", "fail", "skip", "skip", "error"]);
});

test("random splits and CRLF line ends (legacy PTY shell) parse the same", () => {
  const crlf = PASS_FAIL.replace(/\n/g, "\r\n");
  for (let seed = 1; seed < 30; seed++) {
    const chunks: string[] = [];
    let i = 0;
    let x = seed;
    while (i < crlf.length) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const n = 1 + (x % 97);
      chunks.push(crlf.slice(i, i + n));
      i += n;
    }
    const { parser } = parseAll(crlf, () => chunks);
    const s = parser.finish();
    assert.equal(s.cases.map((c) => c.outcome), ["pass", "fail", "skip", "skip", "error"]);
    assert.is(s.cases[1]!.message, "java.lang.AssertionError: expected:<1> but was:<2>\n\tat com.x.FooTest.badPin(FooTest.java:42)");
  }
});

test("a process crash is an error of the test that was running, the rest never ran", () => {
  const text = [
    status(1, t("com.x.FooTest", "opens", 1, 3, { stream: "\ncom.x.FooTest:" })),
    status(0, t("com.x.FooTest", "opens", 1, 3, { stream: "." })),
    status(1, t("com.x.FooTest", "crashes", 2, 3, { stream: "" })),
    "INSTRUMENTATION_RESULT: shortMsg=Process crashed.\n",
    "INSTRUMENTATION_CODE: 0\n",
  ].join("");
  const parser = new InstrumentationParser({ runner: RUNNER });
  const emitted = parser.feed(text);
  assert.equal(emitted.map((c) => [c.name, c.outcome]), [["opens", "pass"], ["crashes", "error"]], "the crash is reported as it happens");
  assert.match(emitted[1]!.message!, /process crashed while it ran: Process crashed\./);
  const s = parser.finish();
  assert.is(s.crash, "Process crashed.");
  assert.is(s.cases.length, 2);
});

test("Unable to find instrumentation info / INSTRUMENTATION_FAILED: a run error naming the runner, a test failure code", () => {
  const { stdout, stderr } = missingInstrumentation(RUNNER);
  const parser = new InstrumentationParser({ runner: RUNNER });
  assert.equal(parser.feed(stdout), []);
  parser.noteStderr(stderr);
  try {
    parser.finish();
    assert.unreachable("must throw");
  } catch (err) {
    assert.instance(err, InstrumentationRunError);
    const e = err as LabError;
    assert.is(e.code, "TEST_FAILED");
    assert.is(e.infra, false);
    assert.ok(e.message.includes(RUNNER));
    assert.match(e.message, /Unable to find instrumentation info for: ComponentInfo\{com\.x\.test\/androidx\.test\.runner\.AndroidJUnitRunner\}/);
  }
  const onlyFailed = new InstrumentationParser({ runner: RUNNER });
  onlyFailed.feed(`INSTRUMENTATION_FAILED: ${RUNNER}\n`);
  assert.throws(() => onlyFailed.finish(), (e: LabError) => e.code === "TEST_FAILED" && e.message.includes(`INSTRUMENTATION_FAILED: ${RUNNER}`));
});

test("output cut in the middle of a test: that test is an error, the run is incomplete", () => {
  const parser = new InstrumentationParser({ runner: RUNNER });
  parser.feed(status(1, t("com.x.FooTest", "slow", 1, 2, { stream: "" })) + "INSTRUMENTATION_STATUS: cla");
  const s = parser.finish();
  assert.is(s.complete, false);
  assert.equal(s.cases.map((c) => [c.name, c.outcome]), [["slow", "error"]]);
  assert.match(s.cases[0]!.message!, /output ended while it ran/);
});

test("garbage and unknown lines between bundles are ignored; durations use the clock", () => {
  let now = 1000;
  const parser = new InstrumentationParser({ runner: RUNNER, now: () => now });
  parser.feed("WARNING: linker: something\n\x00\xff junk\n");
  parser.feed(status(1, t("a.B", "c", 1, 1)));
  now += 250;
  const [c] = parser.feed(status(0, t("a.B", "c", 1, 1)));
  assert.is(c!.durationMs, 250);
  parser.feed("INSTRUMENTATION_RESULT: stream=\nOK (1 test)\nINSTRUMENTATION_CODE: -1\n");
  const s = parser.finish();
  assert.is(s.summary, "OK (1 test)");
  assert.is(s.cases.length, 1);
});

/** The virtual device's own generator (the same code `am instrument -r -w` runs on it). */
async function virtualTranscript(script: unknown): Promise<string> {
  let out = "";
  await runInstrumentation(script as InstrumentationScript, { component: RUNNER, raw: true, classFilter: null, write: async (s) => void (out += s), log: () => undefined });
  return out;
}

test("transcripts from the virtual device: every scripted result maps to its outcome", async () => {
  const text = await virtualTranscript({
    tests: [
      { class: "com.x.LoginTest", name: "opens", result: "pass", durationMs: 0, log: [] },
      { class: "com.x.LoginTest", name: "badPin", result: "fail", stack: "java.lang.AssertionError: pin\n\tat com.x.LoginTest.badPin(LoginTest.java:9)", durationMs: 0, log: [] },
      { class: "com.x.LoginTest", name: "later", result: "ignored", durationMs: 0, log: [] },
      { class: "com.x.OtherTest", name: "tablet", result: "assumption-failure", stack: "org.junit.AssumptionViolatedException: no", durationMs: 0, log: [] },
      { class: "com.x.OtherTest", name: "dies", result: "crash", durationMs: 0, log: [] },
      { class: "com.x.OtherTest", name: "never", result: "pass", durationMs: 0, log: [] },
    ],
  });
  const parser = new InstrumentationParser({ runner: RUNNER });
  for (let i = 0; i < text.length; i += 7) parser.feed(text.slice(i, i + 7));
  const s = parser.finish();
  assert.equal(
    s.cases.map((c) => `${c.group}#${c.name}=${c.outcome}`),
    ["com.x.LoginTest#opens=pass", "com.x.LoginTest#badPin=fail", "com.x.LoginTest#later=skip", "com.x.OtherTest#tablet=skip", "com.x.OtherTest#dies=error"],
  );
  assert.is(s.cases[1]!.message, "java.lang.AssertionError: pin\n\tat com.x.LoginTest.badPin(LoginTest.java:9)");
  assert.is(s.crash, "Process crashed.");
});

test("transcript from the virtual device: all pass ends with OK (n tests)", async () => {
  const text = await virtualTranscript({ tests: [1, 2, 3].map((n) => ({ class: "com.x.T", name: `t${n}`, result: "pass", durationMs: 0, log: [] })) });
  const parser = new InstrumentationParser({ runner: RUNNER });
  parser.feed(text);
  const s = parser.finish();
  assert.equal(s.cases.map((c) => c.outcome), ["pass", "pass", "pass"]);
  assert.ok(s.complete);
  assert.match(s.summary, /OK \(3 tests\)$/);
});

test.run();
