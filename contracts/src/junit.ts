import type { LogLine } from "./log.js";
import type { CaseResult, StepResult } from "./step.js";

export interface JUnitInput {
  /** The testsuite name: usually the suite name. */
  name: string;
  runId?: string;
  steps: StepResult[];
  /** The run's cases: those its steps hold are not repeated; any other (merged results) is added. */
  cases?: CaseResult[];
  logLines?: LogLine[];
  /** Epoch ms of the run start, for the `timestamp` attribute. */
  startedAt?: number;
  /** Console lines kept per failing testcase (the tail of its range); default 200. */
  maxLinesPerCase?: number;
}

interface TestCaseRow {
  name: string;
  classname: string;
  outcome: CaseResult["outcome"];
  message?: string;
  errorCode?: string;
  durationMs: number;
  file?: string;
  line?: number;
  firstSeq?: number;
  lastSeq?: number;
}

// XML 1.0 forbids most C0 controls even as character references; ANSI escapes are noise in CI UIs.
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]/g;
const FORBIDDEN = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]/g;

export function xmlEscape(text: string): string {
  return text
    .replace(ANSI, "")
    .replace(FORBIDDEN, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

function rowsOf(input: JUnitInput): TestCaseRow[] {
  const rows: TestCaseRow[] = [];
  for (const step of input.steps) {
    const classname = `${input.name}.${step.role ?? "lab"}`;
    for (const c of step.cases) rows.push({ ...c, classname: c.group ?? classname });
    const stepErrorCovered = step.cases.some((c) => c.outcome === "error" || c.outcome === "fail");
    // A step with cases is represented by them, unless the step itself broke in a way no case shows.
    if (step.cases.length === 0 || (step.outcome !== "pass" && step.outcome !== "skip" && !stepErrorCovered)) {
      rows.push({
        name: `${String(step.index + 1).padStart(2, "0")} ${step.name}`,
        classname,
        outcome: step.outcome,
        message: step.message,
        errorCode: step.errorCode,
        durationMs: step.durationMs,
        firstSeq: step.firstSeq,
        lastSeq: step.lastSeq,
      });
    }
  }
  // A run's `cases` repeats every step's cases (flattened for the API); only a case no step holds is added.
  const key = (c: CaseResult) => `${c.group ?? ""}\u0000${c.name}\u0000${c.outcome}\u0000${c.durationMs}`;
  const inSteps = new Map<string, number>();
  for (const step of input.steps) for (const c of step.cases) inSteps.set(key(c), (inSteps.get(key(c)) ?? 0) + 1);
  for (const c of input.cases ?? []) {
    const left = inSteps.get(key(c)) ?? 0;
    if (left > 0) inSteps.set(key(c), left - 1);
    else rows.push({ ...c, classname: c.group ?? input.name });
  }
  return rows;
}

function linesIn(lines: LogLine[], first: number | undefined, last: number | undefined, max: number): LogLine[] {
  if (first === undefined) return [];
  const hi = last ?? Number.MAX_SAFE_INTEGER;
  const picked = lines.filter((l) => l.seq >= first && l.seq <= hi);
  return picked.slice(Math.max(0, picked.length - max));
}

function renderLines(lines: LogLine[]): string {
  return lines.map((l) => `[${l.seq}] ${l.text}`).join("\n");
}

/**
 * One `<testsuite>` per run, one `<testcase>` per Unity case or (for steps without cases) per step.
 * Test failures become `<failure>`, infrastructure and step errors `<error>` (CI tools count them
 * apart), skips `<skipped/>`. Console lines of failing testcases go to their `<system-out>`, the whole
 * log (tail) to the suite's.
 */
export function toJUnitXml(input: JUnitInput): string {
  const rows = rowsOf(input);
  const lines = input.logLines ?? [];
  const maxLines = input.maxLinesPerCase ?? 200;
  const count = (o: CaseResult["outcome"]) => rows.filter((r) => r.outcome === o).length;
  const totalMs = input.steps.reduce((a, s) => a + s.durationMs, 0);
  const attrs = [
    `name="${xmlEscape(input.name)}"`,
    `tests="${rows.length}"`,
    `failures="${count("fail")}"`,
    `errors="${count("error")}"`,
    `skipped="${count("skip")}"`,
    `time="${seconds(totalMs)}"`,
  ];
  if (input.startedAt !== undefined) attrs.push(`timestamp="${new Date(input.startedAt).toISOString().replace(/\.\d+Z$/, "")}"`);
  if (input.runId !== undefined) attrs.push(`id="${xmlEscape(input.runId)}"`);

  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="${xmlEscape(input.name)}">`];
  out.push(`  <testsuite ${attrs.join(" ")}>`);
  if (input.runId !== undefined) {
    out.push("    <properties>", `      <property name="run" value="${xmlEscape(input.runId)}"/>`, "    </properties>");
  }
  for (const r of rows) {
    const caseAttrs = [`name="${xmlEscape(r.name)}"`, `classname="${xmlEscape(r.classname)}"`, `time="${seconds(r.durationMs)}"`];
    if (r.file !== undefined) caseAttrs.push(`file="${xmlEscape(r.file)}"`);
    if (r.line !== undefined) caseAttrs.push(`line="${r.line}"`);
    const body: string[] = [];
    const message = r.message ?? "";
    const firstLine = message.split("\n")[0] ?? "";
    if (r.outcome === "fail") {
      body.push(`      <failure message="${xmlEscape(firstLine)}" type="${xmlEscape(r.errorCode ?? "TEST_FAILED")}">${xmlEscape(message)}</failure>`);
    } else if (r.outcome === "error") {
      body.push(`      <error message="${xmlEscape(firstLine)}" type="${xmlEscape(r.errorCode ?? "ERROR")}">${xmlEscape(message)}</error>`);
    } else if (r.outcome === "skip") {
      body.push(message ? `      <skipped message="${xmlEscape(firstLine)}"/>` : "      <skipped/>");
    }
    if (r.outcome === "fail" || r.outcome === "error") {
      const own = linesIn(lines, r.firstSeq, r.lastSeq, maxLines);
      if (own.length > 0) body.push(`      <system-out>${xmlEscape(renderLines(own))}</system-out>`);
    }
    if (body.length === 0) out.push(`    <testcase ${caseAttrs.join(" ")}/>`);
    else out.push(`    <testcase ${caseAttrs.join(" ")}>`, ...body, "    </testcase>");
  }
  if (lines.length > 0) {
    const tail = lines.slice(Math.max(0, lines.length - 5000));
    out.push(`    <system-out>${xmlEscape(renderLines(tail))}</system-out>`);
  }
  out.push("  </testsuite>", "</testsuites>", "");
  return out.join("\n");
}
