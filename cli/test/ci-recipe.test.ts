// The CI recipes, run for real: the composite action .github/actions/hil-run is read as GitHub reads it
// (inputs and their defaults reach each run step through its `env:`; outputs come from $GITHUB_OUTPUT),
// its bash steps run against a lab with a virtual ESP32, and the JUnit file and the outputs are checked.
// The example workflow (docs/ci/github-actions.yml) and GitLab job (docs/ci/gitlab-ci.yml) are checked
// against the action's inputs and `hil run`'s flags.
import { readFile, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildEsp32Image, writeIdfBuildDir } from "@hil/lab-agent";
import { hilArgv, spawnTracked } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse as parseYaml } from "yaml";
import { checkHilArgs, ROOT } from "./docker-check.js";
import { CI_TOKEN, startLab, type Lab } from "./lab-fixture.js";

interface ActionStep {
  id?: string;
  name?: string;
  shell?: string;
  if?: string;
  env?: Record<string, string>;
  run?: string;
  uses?: string;
}
interface Action {
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: ActionStep[] };
}

const ACTION = ".github/actions/hil-run/action.yml";
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");
const action = parseYaml(read(ACTION)) as Action;
const SHA = "0123456789abcdef0123456789abcdef01234567";

let lab: Lab;

test.before(async () => {
  lab = await startLab();
  await lab.startAgent("rc", ["--virtual", "esp32=1"]);
});
test.after(async () => {
  await lab?.stop();
});

/** `${{ … }}` as the runner evaluates it, for the contexts the action may use; anything else is an error. */
function evaluate(text: string, ctx: { inputs: Record<string, string>; steps: Record<string, Record<string, string>> }): string {
  return text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
    let m = /^inputs\.([\w-]+)$/.exec(expr);
    if (m) {
      const name = m[1] ?? "";
      if (!(name in action.inputs)) throw new Error(`the action reads undeclared input ${name}`);
      return ctx.inputs[name] ?? "";
    }
    if (expr === "github.sha") return SHA;
    m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expr);
    if (m) return ctx.steps[m[1] ?? ""]?.[m[2] ?? ""] ?? "";
    throw new Error(`expression the test does not evaluate: ${expr}`);
  });
}

/** Runs the composite action's steps in `workspace` like the runner: each `bash -eo pipefail`, stopping at the first failure. */
async function runAction(given: Record<string, string>, workspace: string): Promise<{ outputs: Record<string, string>; codes: number[]; log: string }> {
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(action.inputs)) {
    const value = given[name] ?? (spec.default !== undefined ? evaluate(spec.default, { inputs: {}, steps: {} }) : undefined);
    if (value === undefined && spec.required) throw new Error(`input ${name} is required`);
    inputs[name] = value ?? "";
  }
  for (const name of Object.keys(given)) if (!(name in action.inputs)) throw new Error(`the action has no input ${name}`);
  const steps: Record<string, Record<string, string>> = {};
  const codes: number[] = [];
  let log = "";
  for (const [i, step] of action.runs.steps.entries()) {
    assert.is(step.shell, "bash", `step ${i} runs in bash`);
    assert.ok(step.run, `step ${i} is a run step`);
    assert.is(step.if, undefined, "a step condition the test would have to evaluate");
    assert.not.match(step.run ?? "", /\$\{\{/, "expressions reach the script through env only (no script injection)");
    const outFile = join(workspace, `.github-output-${i}`);
    const scriptFile = join(workspace, `.step-${i}.sh`);
    await writeFile(outFile, "");
    await writeFile(scriptFile, step.run ?? "");
    const env: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: workspace, GITHUB_OUTPUT: outFile, GITHUB_STEP_SUMMARY: join(workspace, ".summary.md") };
    for (const [k, v] of Object.entries(step.env ?? {})) env[k] = evaluate(String(v), { inputs, steps });
    const p = spawnTracked("bash", ["--noprofile", "--norc", "-eo", "pipefail", scriptFile], { cwd: workspace, env });
    const code = (await p.exited) ?? -1;
    log += p.output();
    codes.push(code);
    if (step.id) steps[step.id] = Object.fromEntries(readFileSync(outFile, "utf8").split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    if (code !== 0) break;
  }
  const outputs = Object.fromEntries(Object.entries(action.outputs).map(([k, o]) => [k, evaluate(o.value, { inputs, steps })]));
  return { outputs, codes, log };
}

function cliInput(): string {
  const [cmd, argv] = hilArgv([]);
  // the steps run in the workspace, where a bare `--import tsx` would not resolve
  const words = [cmd, ...argv.map((w) => (w === "tsx" ? fileURLToPath(import.meta.resolve("tsx")) : w))];
  assert.ok(words.every((w) => !/\s/.test(w)), "the hil command's paths have no spaces (the action splits cli on them)");
  return words.join(" ");
}

test("the action runs an ESP-IDF build dir on a virtual ESP32: JUnit written, outputs set, the run linked and kept with its commit", async () => {
  await writeIdfBuildDir(join(lab.dir, "build"), { project: "ci_recipe", version: "3.1.0" });
  const { outputs, codes, log } = await runAction(
    { url: lab.url, token: CI_TOKEN, suite: "esp32-smoke", profile: "esp32-virtual", artifact: "app=build/", timeout: "3m", cli: cliInput() },
    lab.dir,
  );
  assert.equal(codes, [0, 0], log);
  assert.match(outputs["run-id"] ?? "", /^[a-z0-9-]+$/, log);
  assert.is(outputs["run-url"], `${lab.url}/#/runs/${outputs["run-id"]}`);
  assert.is(outputs["outcome"], "passed");
  assert.is(outputs["exit-code"], "0");
  assert.match(log, /artifact app: ESP-IDF build .* packed/);
  const xml = await readFile(join(lab.dir, "hil-junit.xml"), "utf8");
  assert.match(xml, /<testsuite[^>]*\bfailures="0"/);
  assert.match(xml, /<testcase[^>]*name="[^"]*app started/);
  const run = await lab.getRun(outputs["run-id"] ?? "");
  assert.is(run.state, "passed");
  assert.is(run.request.ci?.commit, SHA, "the commit input defaults to github.sha");
  assert.match(await readFile(join(lab.dir, ".summary.md"), "utf8"), new RegExp(`\\[${outputs["run-id"]}\\]\\(${lab.url}/#/runs/`));
  // the link opens the dashboard, whose router shows a run page for #/runs/<id>
  const page = await fetch(`${lab.url}/`);
  assert.is(page.status, 200);
  assert.match(await page.text(), /HIL Lab/);
  assert.match(read("dashboard/web/main.tsx"), /page === "runs" && route\.path\[1\]\) view = <RunPage/);
});

test("a failing test sets the outputs, writes the JUnit with the failure and fails the action with exit 1", async () => {
  await writeFile(join(lab.dir, "panic.bin"), buildEsp32Image({ scenario: { kind: "panic" } }));
  const { outputs, codes, log } = await runAction(
    { url: lab.url, token: CI_TOKEN, suite: "esp32-smoke", profile: "esp32-virtual", artifact: "app=panic.bin", junit: "panic.xml", timeout: "3m", cli: cliInput() },
    lab.dir,
  );
  assert.equal(codes, [0, 1], log);
  assert.is(outputs["outcome"], "failed");
  assert.is(outputs["exit-code"], "1");
  assert.is(outputs["run-url"], `${lab.url}/#/runs/${outputs["run-id"]}`);
  assert.match(await readFile(join(lab.dir, "panic.xml"), "utf8"), /<failure/);
});

test("a run the lab refuses: outcome not-run, no run id, the action fails with the usage exit code", async () => {
  const { outputs, codes, log } = await runAction(
    { url: lab.url, token: CI_TOKEN, suite: "no-such-suite", profile: "esp32-virtual", artifact: "app=panic.bin", timeout: "3m", cli: cliInput() },
    lab.dir,
  );
  assert.equal(codes, [0, 64], log);
  assert.equal([outputs["outcome"], outputs["run-id"], outputs["run-url"], outputs["exit-code"]], ["not-run", "", "", "64"]);
});

test("the example workflow and GitLab job use the action's inputs and hil run's real flags", () => {
  const workflow = parseYaml(read("docs/ci/github-actions.yml")) as { jobs: Record<string, { container?: string; steps: (ActionStep & { with?: Record<string, string> })[] }> };
  const build = workflow.jobs["build"];
  assert.match(build?.container ?? "", /^espressif\/idf:/);
  assert.ok(build?.steps.some((s) => /idf\.py build/.test(s.run ?? "")));
  const uses = Object.values(workflow.jobs).flatMap((j) => j.steps).filter((s) => s.uses?.includes(".github/actions/hil-run"));
  assert.is(uses.length, 1);
  const withInputs = uses[0]?.with ?? {};
  for (const k of Object.keys(withInputs)) assert.ok(k in action.inputs, `the workflow passes unknown input ${k}`);
  for (const [k, spec] of Object.entries(action.inputs)) if (spec.required) assert.ok(k in withInputs, `the workflow leaves out required input ${k}`);
  assert.is(withInputs["artifact"], "app=build/");

  const gitlab = parseYaml(read("docs/ci/gitlab-ci.yml")) as Record<string, { image?: unknown; script?: string[]; artifacts?: { reports?: { junit?: string } } }>;
  assert.match(String(gitlab["build-firmware"]?.image), /^espressif\/idf:/);
  const script = (gitlab["hil-esp32-smoke"]?.script ?? []).join("\n").replace(/\\\n\s*/g, "");
  const call = /\bhil (run [^|\n]+)/.exec(script)?.[1]?.trim().split(/\s+/) ?? [];
  assert.equal(checkHilArgs(call, "gitlab"), []);
  for (const flag of ["--wait", "--junit", "--artifact"]) assert.ok(call.includes(flag), `the GitLab job passes ${flag}`);
  assert.is(gitlab["hil-esp32-smoke"]?.artifacts?.reports?.junit, call[call.indexOf("--junit") + 1]);
});

test.run();
