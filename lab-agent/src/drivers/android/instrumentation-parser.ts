// Parses `am instrument -r -w` output (PROTOCOLS.md §E.1; androidx InstrumentationResultPrinter,
// ddmlib InstrumentationResultParser) into per-test CaseResults, as the bytes arrive.
import type { CaseResult } from "@hil/contracts";
import { InstrumentationRunError } from "./instrumentation-run-error.js";

/** AndroidJUnitRunner's status codes as they appear on the wire. */
export const STATUS_CODE = { START: 1, IN_PROGRESS: 2, OK: 0, ERROR: -1, FAILURE: -2, IGNORED: -3, ASSUMPTION_FAILURE: -4 } as const;
/** `INSTRUMENTATION_CODE: -1` (Activity.RESULT_OK): the run finished. */
const SESSION_FINISHED = -1;

export interface InstrumentationParserOptions {
  /** "pkg/Runner", named in run errors. */
  runner: string;
  /** Clock for test durations; default Date.now. */
  now?: () => number;
}

export interface InstrumentationSummary {
  cases: CaseResult[];
  /** INSTRUMENTATION_CODE was seen (the runner reported the end of the run). */
  complete: boolean;
  sessionCode: number | undefined;
  /** The final `stream` (JUnit's "OK (3 tests)" / "FAILURES!!!" summary), trimmed. */
  summary: string;
  /** Why the run ended early (a process crash), when it did. */
  crash: string | undefined;
}

type Kind = "status" | "result";

interface Running {
  group: string;
  name: string;
  startedAt: number;
}

const PREFIXES: [string, Kind | "code-status" | "code-result" | "failed" | "aborted"][] = [
  ["INSTRUMENTATION_STATUS_CODE: ", "code-status"],
  ["INSTRUMENTATION_STATUS: ", "status"],
  ["INSTRUMENTATION_RESULT: ", "result"],
  ["INSTRUMENTATION_CODE: ", "code-result"],
  ["INSTRUMENTATION_FAILED: ", "failed"],
  ["INSTRUMENTATION_ABORTED: ", "aborted"],
];

/**
 * Feed it chunks of output in any split; each `feed` returns the tests that finished in that chunk.
 * `finish` closes the run: a test still running when the output ended becomes an error, and a run
 * that never started (no runner, INSTRUMENTATION_FAILED) throws an InstrumentationRunError.
 */
export class InstrumentationParser {
  private readonly runner: string;
  private readonly now: () => number;
  private pending = "";
  private bundle = new Map<string, string>();
  private bundleKind: Kind | undefined;
  private lastKey: string | undefined;
  private running: Running | undefined;
  private readonly cases: CaseResult[] = [];
  private runError: string | undefined;
  private sessionCode: number | undefined;
  private summary = "";
  private crash: string | undefined;

  constructor(opts: InstrumentationParserOptions) {
    this.runner = opts.runner;
    this.now = opts.now ?? Date.now;
  }

  feed(chunk: string): CaseResult[] {
    const before = this.cases.length;
    this.pending += chunk;
    let nl: number;
    while ((nl = this.pending.indexOf("\n")) >= 0) {
      const raw = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      // A legacy PTY shell turns "\n" into "\r\n".
      this.line(raw.endsWith("\r") ? raw.slice(0, -1) : raw);
    }
    return this.cases.slice(before);
  }

  /** Text am printed on stderr (INSTRUMENTATION_FAILED goes there with `-r`). */
  noteStderr(text: string): void {
    const m = /INSTRUMENTATION_FAILED: (\S+)/.exec(text);
    if (m && this.runError === undefined) this.runError = `INSTRUMENTATION_FAILED: ${m[1]}`;
  }

  /** Ends the run. Throws InstrumentationRunError when the runner never ran. */
  finish(): InstrumentationSummary {
    if (this.pending.length > 0) {
      const rest = this.pending;
      this.pending = "";
      this.line(rest.endsWith("\r") ? rest.slice(0, -1) : rest);
    }
    if (this.runError !== undefined && this.cases.length === 0 && !this.running) {
      throw new InstrumentationRunError(this.runner, `instrumentation ${this.runner} could not run: ${this.runError}; install the test APK that declares this runner, or fix the runner name in the suite`);
    }
    if (this.running) {
      const why = this.crash !== undefined ? `the process crashed while it ran: ${this.crash}` : this.runError ?? "the instrumentation output ended while it ran (no result was reported)";
      this.endRunning("error", why);
    }
    return { cases: [...this.cases], complete: this.sessionCode !== undefined, sessionCode: this.sessionCode, summary: this.summary.trim(), crash: this.crash };
  }

  private line(text: string): void {
    for (const [prefix, kind] of PREFIXES) {
      if (!text.startsWith(prefix)) continue;
      const rest = text.slice(prefix.length);
      switch (kind) {
        case "status":
        case "result":
          this.keyValue(kind, rest);
          return;
        case "code-status":
          this.statusCode(Number.parseInt(rest, 10));
          return;
        case "code-result":
          this.resultCode(Number.parseInt(rest, 10));
          return;
        case "failed":
          this.runError ??= `INSTRUMENTATION_FAILED: ${rest.trim()}`;
          this.lastKey = undefined;
          return;
        case "aborted":
          this.crash ??= `INSTRUMENTATION_ABORTED: ${rest.trim()}`;
          this.lastKey = undefined;
          return;
      }
    }
    if (text.startsWith("onError: ")) {
      this.runError ??= text.slice("onError: ".length);
      return;
    }
    // Multi-line values (stack, stream): a line without a known prefix continues the last value.
    if (this.lastKey !== undefined) this.bundle.set(this.lastKey, `${this.bundle.get(this.lastKey) ?? ""}\n${text}`);
  }

  private keyValue(kind: Kind, rest: string): void {
    if (this.bundleKind !== kind) {
      this.bundle = new Map();
      this.bundleKind = kind;
    }
    const eq = rest.indexOf("=");
    const key = eq >= 0 ? rest.slice(0, eq) : rest;
    this.bundle.set(key, eq >= 0 ? rest.slice(eq + 1) : "");
    this.lastKey = key;
  }

  private takeBundle(): Map<string, string> {
    const b = this.bundle;
    this.bundle = new Map();
    this.bundleKind = undefined;
    this.lastKey = undefined;
    return b;
  }

  private statusCode(code: number): void {
    const b = this.takeBundle();
    const group = b.get("class");
    const name = b.get("test");
    if (group === undefined || name === undefined) {
      // A status without a test: "Error=Unable to find instrumentation info for: …" and the like.
      const error = b.get("Error") ?? b.get("shortMsg");
      if (error !== undefined) this.runError ??= error;
      return;
    }
    switch (code) {
      case STATUS_CODE.START:
        if (this.running) this.endRunning("error", "the runner started another test before reporting this one's result");
        this.running = { group, name, startedAt: this.now() };
        return;
      case STATUS_CODE.IN_PROGRESS:
        return;
      case STATUS_CODE.OK:
        this.endTest(group, name, "pass", undefined);
        return;
      case STATUS_CODE.FAILURE:
        this.endTest(group, name, "fail", b.get("stack") ?? "the test failed (no stack reported)");
        return;
      case STATUS_CODE.ERROR:
        this.endTest(group, name, "error", b.get("stack") ?? b.get("Error") ?? "the test ended in an error");
        return;
      case STATUS_CODE.IGNORED:
        this.endTest(group, name, "skip", "ignored (@Ignore)");
        return;
      case STATUS_CODE.ASSUMPTION_FAILURE:
        this.endTest(group, name, "skip", `assumption failed: ${b.get("stack") ?? "no reason given"}`);
        return;
      default:
        this.endTest(group, name, "error", `unknown instrumentation status code ${code}`);
    }
  }

  private resultCode(code: number): void {
    const b = this.takeBundle();
    this.sessionCode = code;
    this.summary = b.get("stream") ?? "";
    const shortMsg = b.get("shortMsg");
    if (shortMsg !== undefined) {
      const longMsg = b.get("longMsg");
      this.crash = longMsg !== undefined ? `${shortMsg} ${longMsg}` : shortMsg;
      this.endRunning("error", `the process crashed while it ran: ${this.crash}`);
    } else if (code !== SESSION_FINISHED && this.cases.length === 0 && !this.running) {
      this.runError ??= `the instrumentation ended with INSTRUMENTATION_CODE ${code}`;
    }
  }

  private endTest(group: string, name: string, outcome: CaseResult["outcome"], message: string | undefined): void {
    const same = this.running !== undefined && this.running.group === group && this.running.name === name;
    const started = same && this.running ? this.running.startedAt : this.now();
    if (same) this.running = undefined;
    else this.endRunning("error", `the runner reported ${group}#${name} before this test's result`);
    const result: CaseResult = { name, group, outcome, durationMs: Math.max(0, this.now() - started) };
    if (message !== undefined) result.message = message;
    this.cases.push(result);
  }

  private endRunning(outcome: CaseResult["outcome"], message: string): void {
    const r = this.running;
    if (!r) return;
    this.running = undefined;
    this.cases.push({ name: r.name, group: r.group, outcome, message, durationMs: Math.max(0, this.now() - r.startedAt) });
  }
}
