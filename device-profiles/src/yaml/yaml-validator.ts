import { readFile } from "node:fs/promises";
import { z } from "zod";
import { formatPath, type Problem } from "./problem.js";
import { YamlLocator } from "./yaml-locator.js";

export interface YamlCheckResult<T> {
  /** Set only when there were no problems. */
  value?: T;
  problems: Problem[];
  locator?: YamlLocator;
  /** The plain data as parsed, for follow-up checks that need raw values. */
  data?: unknown;
}

/** Reads and validates one YAML file; every problem carries its line. Never throws for bad input. */
export async function checkYamlFile<S extends z.ZodType>(file: string, schema: S): Promise<YamlCheckResult<z.output<S>>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "file not found" : code === "EISDIR" ? "is a directory, not a YAML file" : (err as Error).message;
    return { problems: [{ file, line: 0, path: "", message: why }] };
  }
  return checkYamlText(file, text, schema);
}

export function checkYamlText<S extends z.ZodType>(file: string, text: string, schema: S): YamlCheckResult<z.output<S>> {
  const { locator, data, syntaxErrors } = YamlLocator.parse(text);
  if (syntaxErrors.length > 0) {
    return { locator, problems: syntaxErrors.map((e) => ({ file, line: e.line, path: "", message: e.message })) };
  }
  if (data === null || data === undefined) {
    return { locator, problems: [{ file, line: 1, path: "", message: "the file holds no YAML mapping" }] };
  }
  const result = schema.safeParse(data);
  if (result.success) return { value: result.data, problems: [], locator, data };
  const known = knownFieldNames(schema);
  const problems = result.error.issues.flatMap((issue) => issueToProblems(file, issue, data, locator, known));
  // A misspelt key shows up twice (unknown "flsh", missing "flash"); keep only the line that names both.
  const suggested = new Set(problems.flatMap((p) => (p.suggestedPath === undefined ? [] : [p.suggestedPath])));
  const kept = problems.filter((p) => !(p.missing && suggested.has(p.path))).map(({ file: f, line, path: at, message }) => ({ file: f, line, path: at, message }));
  return { problems: dedupe(kept), locator, data };
}

interface RawProblem extends Problem {
  /** For an unknown key with a close known name: the path it probably meant. */
  suggestedPath?: string;
  missing?: boolean;
}

function issueToProblems(file: string, issue: z.core.$ZodIssue, data: unknown, locator: YamlLocator, known: Set<string>): RawProblem[] {
  const path = issue.path;
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => {
      const full = [...path, key];
      const hint = closest(key, known);
      return {
        file,
        line: locator.lineOf(full),
        path: formatPath(full),
        message: `unknown field${hint ? ` (did you mean ${hint}?)` : ""}`,
        ...(hint ? { suggestedPath: formatPath([...path, hint]) } : {}),
      };
    });
  }
  const present = valueAt(data, path) !== undefined;
  let message = issue.message;
  if (issue.code === "invalid_union" && "discriminator" in issue && "options" in issue && Array.isArray(issue.options)) {
    const options = issue.options.map(String).join(", ");
    message = present ? `must be one of ${options}` : `missing field (one of ${options})`;
  } else if (issue.code === "invalid_type" && !present) {
    message = `missing field (expected ${issue.expected})`;
  } else if (issue.code === "invalid_type") {
    const got = valueAt(data, path);
    // YAML reads 0403 or 7523 as numbers (and drops the leading zero); the fix is quoting.
    const quote = issue.expected === "string" && typeof got === "number" ? "; quote the value to keep it text, e.g. \"0403\"" : "";
    message = `expected ${issue.expected}, got ${describe(got)}${quote}`;
  }
  const missing = !present || message.startsWith("missing field");
  return [{ file, line: locator.lineOf(path), path: formatPath(path), message, missing }];
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[seg];
  }
  return cur;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.line}\0${p.path}\0${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const fieldNameCache = new WeakMap<z.ZodType, Set<string>>();

/** Every property name the schema knows anywhere, for "did you mean" hints on unknown fields. */
function knownFieldNames(schema: z.ZodType): Set<string> {
  const cached = fieldNameCache.get(schema);
  if (cached) return cached;
  const names = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node !== null && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (k === "properties" && v !== null && typeof v === "object") Object.keys(v).forEach((n) => names.add(n));
        walk(v);
      }
    }
  };
  try {
    walk(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }));
  } catch {
    // Hints are a nicety; a schema that cannot be described simply gets none.
  }
  fieldNameCache.set(schema, names);
  return names;
}

function closest(word: string, candidates: Set<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    // The names are pooled from the whole schema, so the word itself may be valid elsewhere.
    if (c === word) continue;
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const sub = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, sub));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}
