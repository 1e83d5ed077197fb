// End to end on virtual ESP32 boards hosted by a real `hil agent --virtual esp32=2`: the whole path
// from `hil run` (upload, submit, wait, follow, JUnit) through the scheduler, BullMQ, the agent, the
// step runner, esptool-js over RFC 2217, to the virtual board and back.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildEsp32Image, writeIdfBuildDir } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ADMIN_TOKEN, startLab, type Lab } from "./lab-fixture.js";

let lab: Lab;

test.before(async () => {
  lab = await startLab();
  await lab.startAgent("v1", ["--virtual", "esp32=2"]);
});
test.after(async () => {
  await lab?.stop();
});

async function image(name: string, scenario: Parameters<typeof buildEsp32Image>[0]): Promise<string> {
  const file = join(lab.dir, name);
  await writeFile(file, buildEsp32Image(scenario));
  return file;
}

test("hil run on a virtual board: passes, follows the console, writes JUnit, the board log keeps the lines", async () => {
  const app = await image("console.bin", { appDesc: { projectName: "e2e_console", version: "2.4.1" }, scenario: { kind: "console" } });
  const junit = join(lab.dir, "smoke.xml");
  const run = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "2m", "--wait", "--follow", "--junit", junit]);
  const code = await run.exited;
  assert.is(code, 0, run.output());
  assert.match(run.output(), /main_task: Calling app_main\(\)/, "--follow streamed the console");
  const xml = await readFile(junit, "utf8");
  assert.match(xml, /<testsuite[^>]*\bfailures="0"/);
  assert.match(xml, /<testcase[^>]*name="[^"]*app started/);
  assert.not.match(xml, /<failure|<error/);

  const board = /running on (\S+)/.exec(run.output())?.[1];
  assert.ok(board, run.output());
  const logs = lab.hil(["logs", "--board", board ?? ""]);
  assert.is(await logs.exited, 0, logs.output());
  assert.match(logs.output(), /e2e_console/, "the board's log stream holds the run's boot log");

  const runId = /run (\S+) submitted/.exec(run.output())?.[1] ?? "";
  // The run's own log (the agent's run stream, kept by the scheduler) holds the console too.
  const runLog = await fetch(`${lab.url}/api/v1/runs/${runId}/log`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.is(runLog.status, 200);
  assert.match(await runLog.text(), /main_task: Calling app_main\(\)/);
  const [boards, runs] = [lab.hil(["boards"]), lab.hil(["runs", "--state", "passed"])];
  assert.equal(await Promise.all([boards.exited, runs.exited]), [0, 0], boards.output() + runs.output());
  assert.match(boards.output(), /^BOARD\s+PROFILE\s+STATE/m);
  assert.match(boards.output(), /v1-vesp32-0\s+esp32-virtual\s+idle/);
  assert.match(boards.output(), /v1-vesp32-1\s+esp32-virtual\s+idle/);
  assert.ok(runs.output().includes(runId), runs.output());
});

test("hil run --artifact app=build/: an ESP-IDF build directory goes up as one archive and the board boots it from the build's own layout", async () => {
  const build = join(lab.dir, "idf-build");
  // the factory app where the shipped layout has it: later tests flash a single app to 0x10000 on these boards
  await writeIdfBuildDir(build, { project: "from_idf_build", version: "5.0.1" });
  const run = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${build}`, "--timeout", "2m", "--wait", "--follow"]);
  assert.is(await run.exited, 0, run.output());
  assert.match(run.output(), /artifact app: ESP-IDF build .* packed \(4 files\)/);
  assert.match(run.output(), /boot: Loaded app from partition at offset 0x10000/);
  assert.match(run.output(), /Project name: +from_idf_build/);
  assert.match(run.output(), /App version: +5\.0\.1/);
});

test("a panicking app is a test failure (exit 1), not a lab failure", async () => {
  const app = await image("panic.bin", { scenario: { kind: "panic" } });
  const run = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "2m", "--wait"]);
  assert.is(await run.exited, 1, run.output());
  assert.match(run.output(), /failed/);
});

test("a request the scheduler refuses is a usage error (exit 64) with its reason", async () => {
  const app = await image("any.bin", {});
  const run = lab.hil(["run", "--suite", "no-such-suite", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--wait"]);
  assert.is(await run.exited, 64, run.output());
  assert.match(run.output(), /HTTP 422/);
  const noTarget = lab.hil(["run", "--suite", "esp32-smoke", "--artifact", `app=${app}`]);
  assert.is(await noTarget.exited, 64, noTarget.output());
  assert.match(noTarget.output(), /--profile P, --board ID, or --role ROLE=PROFILE/);
});

test.run();
