import { StepTimeoutError, type CaseResult } from "@hil/contracts";
import type { ConsoleEntry } from "../../console/console-capture.js";
import { isPanicEnd } from "../../console/landmark-detector.js";
import type { Esp32BoardTarget } from "../board-target.js";
import { parseUnityLine, UNITY_MENU_END, UNITY_MENU_HEADER, UNITY_PRESS_ENTER, type UnityMenuEntry } from "./unity-protocol.js";

export interface UnitySessionOptions {
  target: Esp32BoardTarget;
  signal: AbortSignal;
  /** Per test case; a case without a verdict by then is an `error`. */
  caseTimeoutMs: number;
  /** How long to wait for the app to offer its menu (boot included). */
  menuTimeoutMs: number;
}

// Input typed while the app is still booting is lost, so ENTER is repeated until the menu shows.
const ENTER_RETRY_MS = 3000;
const PANIC_LINE_TIMEOUT_MS = 3000;

/**
 * Drives the ESP-IDF Unity menu: ENTER → menu, then each case by number. A panic fails the running
 * case with the crash report; the board reboots and the session re-enters the menu for the next one.
 */
export class UnitySession {
  constructor(private readonly opts: UnitySessionOptions) {}

  private get console() {
    return this.opts.target.console;
  }

  /** Sends ENTER until the menu is printed; returns its entries. */
  async openMenu(): Promise<UnityMenuEntry[]> {
    const deadline = Date.now() + this.opts.menuTimeoutMs;
    // Give a booting board the chance to print its prompt before the first ENTER.
    await this.waitFor(UNITY_PRESS_ENTER, Math.min(ENTER_RETRY_MS, this.opts.menuTimeoutMs)).catch((err: unknown) => {
      if (!(err instanceof StepTimeoutError)) throw err;
    });
    for (;;) {
      await this.opts.target.send("\n");
      const menu = await this.readMenu(Math.min(ENTER_RETRY_MS * 2, Math.max(0, deadline - Date.now())));
      if (menu) return menu;
      if (Date.now() >= deadline) {
        throw new StepTimeoutError(
          `the Unity menu did not appear within ${Math.round(this.opts.menuTimeoutMs / 1000)} s of pressing ENTER; ` +
            `is this a Unity test app? last lines:\n${this.console.tail(8)}`,
        );
      }
    }
  }

  /** Runs one case; never throws for test outcomes, only for infrastructure and cancel. */
  async runCase(entry: UnityMenuEntry): Promise<{ result: CaseResult; needsRecovery: boolean }> {
    const started = Date.now();
    const firstSeq = this.console.nextSeq;
    await this.opts.target.send(`${entry.index}\n`);
    const deadline = started + this.opts.caseTimeoutMs;
    const base: CaseResult = { name: entry.name, outcome: "error", durationMs: 0, firstSeq };
    if (entry.group !== undefined) base.group = entry.group;
    let verdict: CaseResult | undefined;
    let ranInMs: number | undefined;
    const finish = (r: CaseResult, needsRecovery: boolean) => {
      r.durationMs = ranInMs ?? Date.now() - started;
      if (this.console.lastSeq >= firstSeq) r.lastSeq = this.console.lastSeq;
      return { result: r, needsRecovery };
    };
    for (;;) {
      let line: ConsoleEntry;
      try {
        line = await this.console.readLine({ timeoutMs: Math.max(0, deadline - Date.now()), signal: this.opts.signal });
      } catch (err) {
        if (err instanceof StepTimeoutError) {
          const msg = `no Unity result within ${Math.round(this.opts.caseTimeoutMs / 1000)} s (hung?); last lines:\n${this.console.tail(6)}`;
          return finish({ ...base, outcome: "error", message: msg }, true);
        }
        throw err;
      }
      this.opts.target.panicPattern.lastIndex = 0;
      if (this.opts.target.panicPattern.test(line.plain)) {
        const report = await this.collectPanic(line.plain);
        return this.afterPanic(finish({ ...base, outcome: "fail", message: report }, false).result);
      }
      const parsed = parseUnityLine(line.plain);
      if (parsed.kind === "result" && parsed.name === entry.name) {
        const outcome = parsed.result === "PASS" ? "pass" : parsed.result === "FAIL" ? "fail" : "skip";
        verdict = { ...base, outcome, file: parsed.file, line: parsed.line };
        if (parsed.message !== undefined) verdict.message = parsed.message;
        else if (outcome === "fail") verdict.message = "FAIL";
      } else if (parsed.kind === "ran-in") {
        ranInMs = parsed.ms;
      } else if (parsed.kind === "verdict") {
        if (verdict) return finish(verdict, false);
        return finish({ ...base, outcome: parsed.ok ? "pass" : "fail", message: parsed.ok ? undefined : "Unity reported FAIL without a result line" }, false);
      }
    }
  }

  /** After a hang: reset the board and get back to the menu. */
  async recover(): Promise<void> {
    this.console.skipToEnd();
    await this.opts.target.reset("run");
    await this.openMenu();
  }

  /** The crash report: the first panic line through the backtrace / `Rebooting...`. */
  private async collectPanic(first: string): Promise<string> {
    const lines = [first];
    for (let i = 0; i < 60; i++) {
      let next: ConsoleEntry;
      try {
        next = await this.console.readLine({ timeoutMs: PANIC_LINE_TIMEOUT_MS, signal: this.opts.signal });
      } catch (err) {
        if (err instanceof StepTimeoutError) break;
        throw err;
      }
      if (/^ets [A-Z][a-z]{2} |^rst:0x/.test(next.plain.trim())) break;
      if (next.plain.trim() !== "") lines.push(next.plain);
      if (isPanicEnd(next.plain)) break;
    }
    return lines.join("\n");
  }

  private async afterPanic(result: CaseResult): Promise<{ result: CaseResult; needsRecovery: boolean }> {
    // The board reboots after a panic; the next case starts from a fresh menu.
    try {
      await this.openMenu();
      return { result, needsRecovery: false };
    } catch (err) {
      if (err instanceof StepTimeoutError) return { result, needsRecovery: true };
      throw err;
    }
  }

  /** Reads the menu that follows an ENTER; undefined when it did not come within `ms`. */
  private async readMenu(ms: number): Promise<UnityMenuEntry[] | undefined> {
    const deadline = Date.now() + ms;
    let entries: UnityMenuEntry[] | undefined;
    for (;;) {
      let line: ConsoleEntry;
      try {
        line = await this.console.readLine({ timeoutMs: Math.max(0, deadline - Date.now()), signal: this.opts.signal });
      } catch (err) {
        if (err instanceof StepTimeoutError) return undefined;
        throw err;
      }
      if (UNITY_MENU_HEADER.test(line.plain)) {
        entries = [];
        continue;
      }
      if (entries && UNITY_MENU_END.test(line.plain)) return entries;
      if (entries) {
        const parsed = parseUnityLine(line.plain);
        if (parsed.kind === "menu-entry") entries.push(parsed.entry);
      }
    }
  }

  private async waitFor(pattern: RegExp, ms: number): Promise<void> {
    await this.console.expect(pattern, { timeoutMs: ms, signal: this.opts.signal });
  }
}
