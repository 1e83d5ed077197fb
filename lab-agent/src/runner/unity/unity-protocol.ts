// The ESP-IDF Unity runner's console dialogue (unity_runner.c), matched on ANSI-stripped lines.
// Regex semantics follow pytest-embedded's unity parser so results agree with Espressif's own CI.

export const UNITY_READY = /Press ENTER to see the list of tests|Enter test for running|Enter next test, or 'enter' to see menu/;
export const UNITY_PRESS_ENTER = /Press ENTER to see the list of tests/;
export const UNITY_MENU_HEADER = /Here's the test menu, pick your combo:/;
export const UNITY_MENU_END = /Enter test for running/;
export const UNITY_NEXT_PROMPT = /Enter next test, or 'enter' to see menu/;

const MENU_LINE = /^\((\d+)\)\s+"(.+)"\s*((?:\[[^\]]*\])*)\s*$/;
const RESULT_LINE = /^(.+?):(\d+):([^\r\n]+?):(PASS|FAIL|IGNORE)(?::\s?(.*))?\s*$/;
const SUMMARY_LINE = /^-*\s*(\d+) Tests (\d+) Failures (\d+) Ignored\s*$/;
const VERDICT_LINE = /^(OK|FAIL)\s*$/;
const RAN_IN = /^Test ran in (\d+)ms/;
const RUNNING = /^Running (.+)\.\.\.\s*$/;

export interface UnityMenuEntry {
  index: number;
  name: string;
  /** The first [tag]: IDF test apps put the component/group there. */
  group?: string;
  tags: string[];
}

export type UnityLine =
  | { kind: "menu-entry"; entry: UnityMenuEntry }
  | { kind: "running"; name: string }
  | { kind: "result"; file: string; line: number; name: string; result: "PASS" | "FAIL" | "IGNORE"; message?: string }
  | { kind: "ran-in"; ms: number }
  | { kind: "summary"; tests: number; failures: number; ignored: number }
  | { kind: "verdict"; ok: boolean }
  | { kind: "other" };

export function parseUnityLine(plain: string): UnityLine {
  const text = plain.replace(/\r$/, "");
  let m = MENU_LINE.exec(text);
  if (m) {
    const tags = [...(m[3] ?? "").matchAll(/\[([^\]]*)\]/g)].map((t) => t[1] ?? "");
    const entry: UnityMenuEntry = { index: Number(m[1]), name: m[2] ?? "", tags };
    if (tags[0] !== undefined && tags[0] !== "") entry.group = tags[0];
    return { kind: "menu-entry", entry };
  }
  m = RESULT_LINE.exec(text);
  if (m) {
    const out: UnityLine = { kind: "result", file: m[1] ?? "", line: Number(m[2]), name: m[3] ?? "", result: m[4] as "PASS" | "FAIL" | "IGNORE" };
    if (m[5] !== undefined && m[5].trim() !== "") out.message = m[5].trim();
    return out;
  }
  m = SUMMARY_LINE.exec(text);
  if (m) return { kind: "summary", tests: Number(m[1]), failures: Number(m[2]), ignored: Number(m[3]) };
  m = VERDICT_LINE.exec(text);
  if (m) return { kind: "verdict", ok: m[1] === "OK" };
  m = RAN_IN.exec(text);
  if (m) return { kind: "ran-in", ms: Number(m[1]) };
  m = RUNNING.exec(text);
  if (m) return { kind: "running", name: m[1] ?? "" };
  return { kind: "other" };
}

/** Picks menu entries by number or exact name; `*`, empty or absent selects all. */
export function selectCases(
  menu: UnityMenuEntry[],
  wanted: (string | number)[] | undefined,
): { entries: UnityMenuEntry[]; missing: (string | number)[] } {
  if (!wanted || wanted.length === 0 || wanted.includes("*")) return { entries: [...menu], missing: [] };
  const entries: UnityMenuEntry[] = [];
  const missing: (string | number)[] = [];
  for (const w of wanted) {
    const hit = typeof w === "number" ? menu.find((e) => e.index === w) : menu.find((e) => e.name === w);
    if (hit) entries.push(hit);
    else missing.push(w);
  }
  return { entries, missing };
}
