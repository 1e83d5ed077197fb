import { crlf } from "../idf-log.js";
import type { ScenarioEnv, ScenarioRunner } from "../firmware-context.js";
import type { ScenarioSpec, UnityCase } from "../scenario-spec.js";

type UnitySpec = Extract<ScenarioSpec, { kind: "unity" }>;

interface Tally {
  tests: number;
  failures: number;
  ignored: number;
}

/**
 * ESP-IDF's unity_runner menu loop (components/unity/unity_runner.c) over scripted cases: input is
 * read a line at a time, trimmed; an empty line shows the menu; `n`, `"name"`, `[tag]`, `![tag]`,
 * `*` run cases; every run ends with UNITY_END()'s summary and the next-test prompt.
 */
export function startUnity(spec: UnitySpec, env: ScenarioEnv): ScenarioRunner {
  const cases = spec.cases;
  const lines: string[] = [];
  let partial = "";
  let lastWasCr = false;
  let busy = false;
  let last: Tally = { tests: 0, failures: 0, ignored: 0 };
  const colored = (word: "PASS" | "FAIL" | "OK", bg: 41 | 42) => (spec.color ? `\x1b[${bg}m${word}\x1b[0m` : word);
  const lineOf = (c: UnityCase, i: number) => c.line ?? 12 + 10 * i;

  env.print("\r\n\r\nPress ENTER to see the list of tests.\r\n");

  const printMenu = () => {
    let text = "\n\nHere's the test menu, pick your combo:\n";
    cases.forEach((c, i) => {
      text += `(${i + 1})\t"${c.name}" ${c.tags}\n`;
    });
    text += "\nEnter test for running.\n";
    env.print(crlf(text));
  };

  const summary = (t: Tally) => {
    env.print(crlf(`\n-----------------------\n${t.tests} Tests ${t.failures} Failures ${t.ignored} Ignored \n${t.failures === 0 ? colored("OK", 42) : colored("FAIL", 41)}\n`));
  };

  const select = (cmd: string): { picked: number[]; byIndex: boolean } => {
    let rest = cmd;
    let invert = false;
    if (rest.startsWith("!")) {
      invert = true;
      rest = rest.slice(1);
    }
    const all = cases.map((_, i) => i);
    if (rest.startsWith("*")) return { picked: all, byIndex: false };
    if (rest.startsWith("[")) {
      const tag = rest;
      return { picked: all.filter((i) => (cases[i]?.tags.includes(tag) ?? false) !== invert), byIndex: false };
    }
    if (rest.startsWith('"')) {
      const end = rest.lastIndexOf('"');
      if (end <= 0) return { picked: [], byIndex: false };
      const name = rest.slice(1, end);
      return { picked: all.filter((i) => cases[i]?.name === name), byIndex: false };
    }
    if (/^\d/.test(rest)) {
      const n = Number.parseInt(rest, 10);
      return { picked: n >= 1 && n <= cases.length ? [n - 1] : [], byIndex: true };
    }
    return { picked: [], byIndex: false };
  };

  const runCases = (picked: number[], byIndex: boolean, done: () => void) => {
    const tally: Tally = { tests: 0, failures: 0, ignored: 0 };
    const started = performance.now();
    const next = (k: number) => {
      const i = picked[k];
      const c = i === undefined ? undefined : cases[i];
      if (i === undefined || c === undefined) {
        if (byIndex && picked.length > 0) env.print(`Test ran in ${Math.round(performance.now() - started)}ms\r\n`);
        last = tally;
        summary(tally);
        done();
        return;
      }
      env.print(`Running ${c.name}...\r\n`);
      env.timers.after(c.durationMs, () => {
        const head = `${c.file}:${lineOf(c, i)}:${c.name}:`;
        tally.tests++;
        switch (c.outcome) {
          case "pass":
            env.print(`${head}${colored("PASS", 42)}\r\n`);
            break;
          case "fail":
            tally.failures++;
            env.print(`${head}${colored("FAIL", 41)}: ${c.message ?? "Expected 1 Was 0"}\r\n`);
            break;
          case "ignore":
            tally.ignored++;
            env.print(`${head}IGNORE${c.message ? `: ${c.message}` : ""}\r\n`);
            break;
          case "panic":
            // The chip resets mid-case: no result line, no summary.
            env.panic({ reason: c.message ?? "LoadProhibited", description: "Exception was unhandled.", core: 0 });
            return;
        }
        next(k + 1);
      });
    };
    next(0);
  };

  const pump = () => {
    if (busy || env.timers.isStopped) return;
    const cmd = lines.shift();
    if (cmd === undefined) return;
    if (cmd === "") {
      printMenu();
      pump();
      return;
    }
    if (cmd.startsWith("-")) {
      summary(last);
      pump();
      return;
    }
    const { picked, byIndex } = select(cmd);
    busy = true;
    runCases(picked, byIndex, () => {
      env.print("Enter next test, or 'enter' to see menu\r\n");
      busy = false;
      pump();
    });
  };

  return {
    input(bytes) {
      for (const b of bytes) {
        if (b === 0x0a && lastWasCr) {
          lastWasCr = false;
          continue;
        }
        lastWasCr = b === 0x0d;
        if (b === 0x0d || b === 0x0a) {
          lines.push(partial.trim());
          partial = "";
        } else if (partial.length < 255) {
          partial += String.fromCharCode(b);
        }
      }
      pump();
    },
  };
}
