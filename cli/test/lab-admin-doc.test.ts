// docs/lab-admin.md held to the code: its suite example has every step type and each step passes the
// Step schema, every `hil …` command it shows exists with the flags it uses, every HIL_* variable it names
// is one the code or the compose file reads, and every error code the code has is in its table.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ERROR_CODES, STEP_TYPES, StepSchema } from "@hil/contracts";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse as parseYaml } from "yaml";
import { EXIT } from "../src/exit-codes.js";
import { ROOT, checkHilArgs, composeVariables, envReadBy } from "./docker-check.js";

const read = (file: string) => readFileSync(join(ROOT, file), "utf8");
const DOC = read("docs/lab-admin.md");

test("the suite example shows every step type, each one a valid step", () => {
  const block = /Every step type, each with an example:\s*```yaml\n([\s\S]*?)```/.exec(DOC)?.[1];
  assert.ok(block, "the example block is there");
  const steps = (parseYaml(block ?? "") as { steps: unknown[] }).steps;
  for (const step of steps) {
    const parsed = StepSchema.safeParse(step);
    assert.ok(parsed.success, `${JSON.stringify(step)}: ${parsed.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  assert.equal([...new Set(steps.map((s) => (s as { type: string }).type))].sort(), [...STEP_TYPES].sort());
});

test("every hil command the doc shows exists, with the flags it uses", () => {
  const commands: string[][] = [];
  // inline `hil …` spans, and lines of shell blocks that run hil
  for (const m of DOC.matchAll(/`(hil [^`]+)`/g)) commands.push((m[1] ?? "").split(/\s+/).slice(1));
  for (const block of DOC.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const text = (block[1] ?? "").replace(/\\\n\s*/g, " ");
    for (const m of text.matchAll(/(?:^|\s)hil ([^\n#|&>]+)/g)) commands.push((m[1] ?? "").trim().split(/\s+/));
  }
  assert.ok(commands.length >= 10, `found ${commands.length} commands`);
  // prose names commands in passing (`hil run`): unknown commands and flags count, missing required ones not
  const problems = commands.flatMap((args) => checkHilArgs(args, `docs/lab-admin.md: hil ${args.join(" ")}`)).filter((p) => !/ needs --/.test(p));
  assert.equal(problems, []);
});

test("every HIL_* variable the doc names is read by the code or by docker/compose.yaml", () => {
  const known = new Set([
    ...envReadBy("scheduler"),
    ...envReadBy("agent"),
    ...envReadBy("client"),
    ...composeVariables(read("docker/compose.yaml")),
    ...[...read("scripts/lab.mjs").matchAll(/env\.([A-Z][A-Z0-9_]*)/g)].map((m) => m[1] ?? ""),
  ]);
  const named = new Set([...DOC.matchAll(/\b(HIL_[A-Z0-9_]+)\b/g)].map((m) => m[1] ?? ""));
  assert.equal([...named].filter((n) => !known.has(n)), []);
});

test("the troubleshooting table has every error code and every exit code", () => {
  for (const code of Object.keys(ERROR_CODES)) assert.match(DOC, new RegExp(`^\\| \`${code}\``, "m"), `error code ${code}`);
  for (const code of Object.values(EXIT)) assert.match(DOC, new RegExp(`^\\| ${code} \\|`, "m"), `exit code ${code}`);
});

test.run();
