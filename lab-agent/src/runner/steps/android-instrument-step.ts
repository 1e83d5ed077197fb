import { LabError, toLabError, type CaseResult, type Step } from "@hil/contracts";
import { InstrumentationParser, type InstrumentationSummary } from "../../drivers/android/instrumentation-parser.js";
import type { StepContext, StepOutcome } from "../step-context.js";
import { requireAndroid, shellQuote } from "./android-step-support.js";

type InstrumentStep = Extract<Step, { type: "android.instrument" }>;

export function instrumentCommand(step: Pick<InstrumentStep, "runner" | "args">): string {
  const extras = Object.entries(step.args).flatMap(([k, v]) => ["-e", shellQuote(k), shellQuote(v)]);
  return ["am", "instrument", "-r", "-w", ...extras, shellQuote(step.runner)].join(" ");
}

const caseName = (c: CaseResult): string => (c.group !== undefined ? `${c.group}#${c.name}` : c.name);

/**
 * `am instrument -r -w` with each test turned into a CaseResult as its result streams in (with the
 * range of logcat lines it covers). A failing or crashing test fails the step, named; a runner that
 * cannot run (not installed) fails it with the reason; a device lost mid-run is an infrastructure
 * error that keeps the tests finished so far.
 */
export async function runAndroidInstrumentStep(ctx: StepContext<InstrumentStep>): Promise<StepOutcome> {
  const target = requireAndroid(ctx);
  const parser = new InstrumentationParser({ runner: ctx.step.runner });
  let mark = target.console.nextSeq;
  const stamp = (cases: CaseResult[]): void => {
    for (const c of cases) {
      c.firstSeq = mark;
      if (target.console.lastSeq >= mark) c.lastSeq = target.console.lastSeq;
      mark = target.console.nextSeq;
    }
  };
  let stderr = "";
  try {
    const r = await target.adb.shell(instrumentCommand(ctx.step), { timeoutMs: ctx.timeoutMs, signal: ctx.signal, onStdout: (text) => stamp(parser.feed(text)) });
    stderr = r.stderr;
  } catch (err) {
    const e = toLabError(err);
    const cases = partial(parser, e.message);
    return { outcome: "error", errorCode: e.code, message: `${ctx.step.runner}: ${e.message}`, cases };
  }
  parser.noteStderr(stderr);
  let summary: InstrumentationSummary;
  try {
    summary = parser.finish();
    // a test still running when the output ended is only known now
    stamp(summary.cases.filter((c) => c.firstSeq === undefined));
  } catch (err) {
    const e = toLabError(err);
    return { outcome: "fail", errorCode: e.code, message: e.message, cases: [] };
  }
  const declared = applyDeclaredFailures(summary.cases, ctx.step.expectFailures);
  const { cases } = declared;
  const count = (o: CaseResult["outcome"]) => cases.filter((c) => c.outcome === o).length;
  const bad = cases.filter((c) => c.outcome === "fail" || c.outcome === "error");
  const counts = `${cases.length} tests: ${count("pass")} passed, ${count("fail")} failed, ${count("error")} errors, ${count("skip")} skipped`;
  if (summary.crash !== undefined) {
    return { outcome: "fail", errorCode: "TEST_FAILED", message: `${counts}; the process under test crashed (${summary.crash}) in ${bad.map(caseName).join(", ") || "no running test"}`, cases };
  }
  if (!summary.complete) {
    // am -w always ends with INSTRUMENTATION_CODE, even after a crash; output that stops short means
    // the stream was cut (adb 29 then exits 0 with no error), so it is the lab's problem.
    const cut = `${ctx.step.runner}: the instrumentation output stopped before the end of the run`;
    try {
      await target.adb.ensureAttached("am instrument");
    } catch (err) {
      const e = toLabError(err);
      return { outcome: "error", errorCode: e.code, message: `${cut}: ${e.message}`, cases: markCut(cases, e.message) };
    }
    return { outcome: "error", errorCode: "LINK_CLOSED", message: `${cut}; the connection to the device was probably cut`, cases: markCut(cases, "the connection was cut") };
  }
  const asDeclared = declared.matched > 0 ? `, ${declared.matched} of them failed as declared` : "";
  if (declared.missing.length > 0) {
    return { outcome: "fail", errorCode: "TEST_FAILED", message: `${counts}${asDeclared}; declared to fail but did not run: ${declared.missing.join(", ")} (check expectFailures against the runner's tests)`, cases };
  }
  if (bad.length > 0) return { outcome: "fail", errorCode: "TEST_FAILED", message: `${counts}${asDeclared}; failed: ${bad.map(caseName).join(", ")}`, cases };
  if (cases.length === 0) return { outcome: "fail", errorCode: "TEST_FAILED", message: `${ctx.step.runner} ran no tests; check the runner's arguments (class filters)`, cases };
  return { outcome: "pass", message: `${counts}${asDeclared}`, cases };
}

/**
 * The step's compatibility matrix: a declared test that failed counts as passed (its message says it
 * failed as declared, and why); one that passed is a failure, since the declaration no longer holds.
 */
export function applyDeclaredFailures(cases: CaseResult[], declared: InstrumentStep["expectFailures"]): { cases: CaseResult[]; matched: number; missing: string[] } {
  if (declared.length === 0) return { cases, matched: 0, missing: [] };
  const reasons = new Map(declared.map((d) => [d.test, d.reason]));
  let matched = 0;
  const out = cases.map((c): CaseResult => {
    const reason = reasons.get(caseName(c));
    if (reason === undefined) return c;
    if (c.outcome === "fail") {
      matched++;
      return { ...c, outcome: "pass", message: `failed as declared (${reason}): ${c.message ?? "no message"}` };
    }
    if (c.outcome === "pass") return { ...c, outcome: "fail", message: `declared to fail (${reason}) but passed: the expected incompatibility is gone; update expectFailures` };
    return c;
  });
  const ran = new Set(cases.map(caseName));
  return { cases: out, matched, missing: declared.map((d) => d.test).filter((t) => !ran.has(t)) };
}

/** The test the cut stopped says why it did not finish. */
function markCut(cases: CaseResult[], why: string): CaseResult[] {
  return cases.map((c) => (c.outcome === "error" && c.message?.includes("output ended") ? { ...c, message: `not finished: ${why}` } : c));
}

/** The tests done before an infrastructure failure, plus the one it cut short. */
function partial(parser: InstrumentationParser, why: string): CaseResult[] {
  try {
    return markCut(parser.finish().cases, why);
  } catch (err) {
    if (err instanceof LabError) return [];
    throw err;
  }
}
