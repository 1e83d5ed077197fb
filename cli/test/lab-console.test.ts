// Live consoles and the holder's commands, end to end: a real `hil agent --virtual esp32=1` keeps
// the idle board's console open and ships it into the board log; the holder of the board's booking
// types into it, resets it and flashes an uploaded image through the REST API (scheduler → the
// agent's command stream → the board); nobody else may; each action is in the audit log; and a run
// still gets the board afterwards.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LogLine } from "@hil/contracts";
import { buildEsp32Image } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { ADMIN_TOKEN, CI_TOKEN, startLab, type Lab } from "./lab-fixture.js";

const BOARD = "lc-vesp32-0";
const APP = "live_console_app";
let lab: Lab;
let qa = "";
let otherQa = "";
let viewer = "";
let bookingId = "";
let imageSha = "";
let imagePath = "";

test.before(async () => {
  lab = await startLab();
  await lab.startAgent("lc", ["--virtual", "esp32=1"]);
  const mint = async (name: string, role: string) => {
    const r = await lab.api<{ token: string }>("POST", "/api/v1/tokens", { name, role });
    assert.is(r.status, 201);
    return r.body.token;
  };
  qa = await mint("qa-bench", "qa");
  otherQa = await mint("qa-other", "qa");
  viewer = await mint("wall-screen", "viewer");
});
test.after(async () => {
  await lab?.stop();
});

/** The board's log as the agent shipped it (the stream readers resume from), after `afterSeq`. */
async function boardLog(afterSeq = 0): Promise<LogLine[]> {
  const entries = await lab.redis.xrange(lab.keys.boardLog(BOARD), `(${afterSeq}-0`, "+");
  return entries.map(([, fields]) => JSON.parse(fields[1] ?? "{}") as LogLine);
}
async function lastSeq(): Promise<number> {
  const top = await lab.redis.xrevrange(lab.keys.boardLog(BOARD), "+", "-", "COUNT", 1);
  return Number(top[0]?.[0]?.split("-")[0] ?? 0);
}
function waitForLine(what: string, re: RegExp, afterSeq: number, timeoutMs = 30_000): Promise<LogLine> {
  return waitUntil(what, async () => (await boardLog(afterSeq)).find((l) => re.test(l.text)), timeoutMs);
}
const post = (path: string, body: unknown, token: string) => lab.api<{ command?: string; error?: string }>("POST", `/api/v1/boards/${BOARD}/${path}`, body, token);

test("an idle board's console is in its log without any run", async () => {
  // the virtual board's flash is blank: its ROM and bootloader print and retry, as a real one would
  const line = await waitForLine("the idle board's boot output", /^ets Jun {2}8 2016|rst:0x/, 0);
  assert.is(line.run, null);
  assert.is(line.stream, "serial");
  const runs = await lab.api<{ runs: unknown[] }>("GET", "/api/v1/runs");
  assert.is(runs.body.runs.length, 0, "no run was ever submitted");
});

test("only the holder of the board's active booking (or an admin) may type, reset or flash", async () => {
  const upload = await fetch(`${lab.url}/api/v1/artifacts`, {
    method: "POST",
    headers: { authorization: `Bearer ${qa}` },
    body: buildEsp32Image({ appDesc: { projectName: APP, version: "3.1.4" }, scenario: { kind: "console" } }),
  });
  assert.ok(upload.status === 201 || upload.status === 200, `upload: ${upload.status}`);
  imageSha = ((await upload.json()) as { sha256: string }).sha256;
  const commands: [string, unknown][] = [["console", { text: "help", newline: true }], ["reset", { mode: "run" }], ["flash", { artifact: imageSha }]];

  // nobody holds it yet: even qa (which has the console permission) is refused
  for (const [path, body] of commands) assert.is((await post(path, body, qa)).status, 403, `${path} before booking`);
  const booking = await lab.api<{ id: string; holder: string }>("POST", "/api/v1/bookings", { board: BOARD, duration: "30m" }, qa);
  assert.is(booking.status, 201, JSON.stringify(booking.body));
  bookingId = booking.body.id;
  for (const [path, body] of commands) {
    for (const [who, token] of [["another qa", otherQa], ["ci", CI_TOKEN], ["viewer", viewer]] as const) {
      const r = await post(path, body, token);
      assert.is(r.status, 403, `${path} as ${who}: ${JSON.stringify(r.body)}`);
    }
  }
  assert.is((await post("console", { text: "x".repeat(5000) }, qa)).status, 400, "console input is bounded");
  assert.is((await post("flash", { artifact: "0".repeat(64) }, qa)).status, 404, "an image never uploaded");
});

test("the holder flashes an uploaded image: progress, console closed and reopened, the new app boots", async () => {
  const mark = await lastSeq();
  const r = await post("flash", { artifact: imageSha }, qa);
  assert.is(r.status, 202, JSON.stringify(r.body));
  const booted = await waitForLine("the flashed app's boot", new RegExp(`Project name: +${APP}`), mark, 60_000);
  const finished = await waitForLine("the end of the flash", /^flash finished: /, mark);
  const lines = await boardLog(mark);
  const closed = lines.find((l) => l.text === "console closed for the flash");
  const progress = lines.filter((l) => /^flash progress \d+% /.test(l.text));
  assert.ok(closed, "the log says the console closed");
  assert.ok(progress.length >= 2, `progress lines: ${progress.map((l) => l.text).join(" | ")}`);
  assert.ok(progress.some((l) => l.text.startsWith("flash progress 100%")));
  assert.ok((closed?.seq ?? 0) < (progress[0]?.seq ?? 0) && (progress.at(-1)?.seq ?? 0) < booted.seq, "closed → progress → the new boot");
  assert.match(finished.text, /console open again/);
  for (const l of [closed, finished, ...progress]) assert.is(l?.stream, "agent");
});

test("the holder types into the console and sees the board answer; raw keystrokes go through", async () => {
  await waitForLine("the console prompt", /esp32> ?$/, 0);
  let mark = await lastSeq();
  assert.is((await post("console", { text: "version", newline: true }, qa)).status, 202);
  await waitForLine("the answer to version", new RegExp(`App: ${APP} 3\\.1\\.4`), mark);
  mark = await lastSeq();
  // Ctrl-C then a line typed key by key as raw bytes
  assert.is((await post("console", { bytes: Buffer.from("\x03").toString("base64") }, qa)).status, 202);
  assert.is((await post("console", { bytes: Buffer.from("echo typed-by-qa\r").toString("base64") }, qa)).status, 202);
  await waitForLine("the echo", /^typed-by-qa$/, mark);
});

test("the holder resets the board and sees the boot banner again", async () => {
  const mark = await lastSeq();
  assert.is((await post("reset", { mode: "run" }, qa)).status, 202);
  const note = await waitForLine("the reset note", /^reset into run mode by qa-bench$/, mark);
  const banner = await waitForLine("the boot banner", /^rst:0x/, note.seq);
  await waitForLine("the app again", new RegExp(`Project name: +${APP}`), banner.seq);
});

test("each holder action is in the audit log; console input by its size, never its text", async () => {
  const audit = await lab.api<{ entries: { actor: string; action: string; target?: string; detail?: Record<string, unknown> }[] }>("GET", `/api/v1/audit?target=${BOARD}&limit=100`);
  assert.is(audit.status, 200);
  const mine = audit.body.entries.filter((e) => e.actor === "qa-bench");
  const actions = new Set(mine.map((e) => e.action));
  for (const a of ["board.console", "board.reset", "board.flash"]) assert.ok(actions.has(a), `${a} in ${[...actions].join(", ")}`);
  const typed = mine.filter((e) => e.action === "board.console");
  assert.equal(typed.map((e) => e.detail?.["bytes"]).sort(), [1, 8, 17].sort(), "bytes of each input: 'version\\r', Ctrl-C, 'echo typed-by-qa\\r'");
  assert.not.match(JSON.stringify(typed), /version|typed-by-qa/);
  assert.is(mine.find((e) => e.action === "board.flash")?.detail?.["artifact"], imageSha);
  // refused calls are not entries
  assert.not.ok(audit.body.entries.some((e) => ["qa-other", "ci", "wall-screen"].includes(e.actor)));
});

test("a run still gets the board afterwards (nobody may reset, flash or type meanwhile: 409), and its console comes back once the run is done", async () => {
  assert.is((await lab.api("POST", `/api/v1/bookings/${bookingId}/release`, undefined, qa)).status, 200);
  imagePath = join(lab.dir, "after.bin");
  await writeFile(imagePath, buildEsp32Image({ appDesc: { projectName: "after_console", version: "1.0.0" }, scenario: { kind: "console" } }));
  const run = lab.hil(["run", "--suite", "esp32-smoke", "--board", BOARD, "--artifact", `app=${imagePath}`, "--timeout", "2m", "--wait"]);
  // the smoke suite watches the console for 5 s without a panic: the board is running for at least that long
  await waitUntil("the run on the board", async () => (await lab.api<{ state: string }>("GET", `/api/v1/boards/${BOARD}`)).body.state === "running", 60_000, 50);
  for (const [path, body] of [["console", { text: "help", newline: true }], ["reset", { mode: "run" }], ["flash", { artifact: imageSha }]] as const) {
    const r = await post(path, body, ADMIN_TOKEN);
    assert.is(r.status, 409, `${path} during the run: ${JSON.stringify(r.body)}`);
    assert.match(r.body.error ?? "", /running for run/);
  }
  assert.is(await run.exited, 0, run.output());
  const runId = /run (\S+) submitted/.exec(run.output())?.[1] ?? "";
  const inRun = (await boardLog()).filter((l) => l.run === runId);
  assert.ok(inRun.some((l) => /after_console/.test(l.text)), "the run's console lines carry its id");
  // after the run: the idle console is open again (an admin may act without a booking)
  await waitUntil("the board idle", async () => (await lab.api<{ state: string }>("GET", `/api/v1/boards/${BOARD}`)).body.state === "idle");
  const mark = await lastSeq();
  assert.is((await post("reset", { mode: "run" }, ADMIN_TOKEN)).status, 202);
  const again = await waitForLine("the boot after the run, on the idle console", /Project name: +after_console/, mark);
  assert.is(again.run, null);
});

test.run();
