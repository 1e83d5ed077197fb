// `hil console` and `hil reset` against a real lab: a `hil agent --virtual esp32=1` board running a console app,
// booked by a qa token. The holder resets it and sees the boot banner in the board log, types a line with
// --send, pipes lines in and reads the answers on stdout, and drives it from a terminal (a pty from `script`)
// until Ctrl-] q; another qa token gets the scheduler's 403 message and exit 64. Also `hil run --commit`, which
// the run list's commit filter finds.
import { spawn } from "node:child_process";
import type { LogLine, Run } from "@hil/contracts";
import { buildEsp32Image } from "@hil/lab-agent";
import { hilArgv, spawnTracked, waitUntil } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { appFile, CI_TOKEN, runIdOf, startLab, submitArgs, type Lab } from "./lab-fixture.js";

const BOARD = "lc-vesp32-0";
const APP = "cli_console_app";
let lab: Lab;
let qa = "";
let otherQa = "";

/** The board's log after `afterSeq`, as the agent shipped it. */
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
/** `hil …` with the lab in the environment; resolves with its exit code, stdout and stderr apart. */
async function hil(args: string[], token: string, stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [cmd, argv] = hilArgv(args);
  const child = spawn(cmd, [...argv], { env: { ...process.env, HIL_URL: lab.url, HIL_TOKEN: token }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  if (stdin !== undefined) child.stdin.end(stdin);
  const code = await new Promise<number | null>((res) => child.once("exit", res));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

test.before(async () => {
  lab = await startLab();
  await lab.startAgent("lc", ["--virtual", "esp32=1"]);
  const mint = async (name: string) => {
    const r = await lab.api<{ token: string }>("POST", "/api/v1/tokens", { name, role: "qa" });
    assert.is(r.status, 201);
    return r.body.token;
  };
  qa = await mint("qa-bench");
  otherQa = await mint("qa-other");
  assert.is((await lab.api("POST", "/api/v1/bookings", { board: BOARD, duration: "30m" }, qa)).status, 201);
  // a console app on the board (its flash starts blank)
  const upload = await fetch(`${lab.url}/api/v1/artifacts`, {
    method: "POST",
    headers: { authorization: `Bearer ${qa}` },
    body: buildEsp32Image({ appDesc: { projectName: APP, version: "2.7.1" }, scenario: { kind: "console" } }),
  });
  const sha = ((await upload.json()) as { sha256: string }).sha256;
  const mark = await lastSeq();
  assert.is((await lab.api("POST", `/api/v1/boards/${BOARD}/flash`, { artifact: sha }, qa)).status, 202);
  await waitForLine("the console prompt of the flashed app", /esp32> ?$/, mark, 90_000);
});
test.after(async () => {
  await lab?.stop();
});

test("hil reset: the boot banner follows in the board log; --download resets into the ROM's download mode", async () => {
  let mark = await lastSeq();
  const r = await hil(["reset", BOARD], qa);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /reset into run mode/);
  const note = await waitForLine("the reset note", /^reset into run mode by qa-bench$/, mark);
  const banner = await waitForLine("the boot banner", /^rst:0x/, note.seq);
  await waitForLine("the app again", new RegExp(`Project name: +${APP}`), banner.seq);

  mark = await lastSeq();
  assert.is((await hil(["reset", BOARD, "--download"], qa)).code, 0);
  await waitForLine("the download-mode reset note", /^reset into download mode by qa-bench$/, mark);
  assert.is((await hil(["reset", BOARD], qa)).code, 0);
  await waitForLine("the console prompt again", /esp32> ?$/, mark);
});

test("hil console --send types one line, prints nothing and exits 0; the board answers in its log", async () => {
  const mark = await lastSeq();
  const r = await hil(["console", BOARD, "--send", "version"], qa);
  assert.is(r.code, 0, r.stderr);
  assert.is(r.stdout, "");
  assert.is(r.stderr, "");
  await waitForLine("the answer to version", new RegExp(`App: ${APP} 2\\.7\\.1`), mark);
});

test("piped stdin: each line is typed in order, the answers are printed, and it exits after --linger", async () => {
  const started = Date.now();
  const r = await hil(["console", BOARD, "--linger", "3", "--tail", "0"], qa, "version\necho piped-one\necho piped-two\n");
  assert.is(r.code, 0, r.stderr);
  assert.ok(Date.now() - started >= 3000, "it lingered");
  assert.match(r.stdout, new RegExp(`App: ${APP} 2\\.7\\.1`));
  const one = r.stdout.indexOf("piped-one\n");
  const two = r.stdout.indexOf("piped-two\n");
  assert.ok(one >= 0 && two > one, r.stdout);
  // input that never ends: --timeout ends the session
  const t0 = Date.now();
  const open = await hil(["console", BOARD, "--timeout", "2s", "--tail", "3"], qa);
  assert.is(open.code, 0, open.stderr);
  assert.ok(Date.now() - t0 >= 2000);
  assert.ok(open.stdout.length > 0, "the last lines of the board log come first");
});

test("from a terminal: keys go to the board raw, Ctrl-] q quits with exit 0", async () => {
  const [cmd, argv] = hilArgv(["console", BOARD, "--tail", "0"]);
  const line = [cmd, ...argv].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const term = spawnTracked("script", ["-qfec", line, "/dev/null"], { env: { ...process.env, HIL_URL: lab.url, HIL_TOKEN: qa } });
  try {
    await term.waitFor(/Ctrl-\] q quits/, 30_000);
    // typed key by key, as a person would, with Enter as a terminal sends it
    for (const ch of "echo from-a-tty\r") {
      term.child.stdin?.write(ch);
      await new Promise((r) => setTimeout(r, 5));
    }
    await term.waitFor(/^from-a-tty\r?$/m, 30_000);
    term.child.stdin?.write("\x1d");
    await new Promise((r) => setTimeout(r, 100));
    term.child.stdin?.write("q");
    assert.is(await Promise.race([term.exited, new Promise((r) => setTimeout(() => r("still running"), 15_000))]), 0, term.output());
  } finally {
    await term.stop();
  }
});

test("someone who does not hold the board gets the scheduler's 403 message and exit 64", async () => {
  const send = await hil(["console", BOARD, "--send", "version"], otherQa);
  assert.is(send.code, 64);
  assert.match(send.stderr, /held by qa-bench; only the holder of its active booking or an admin may do this/);
  const piped = await hil(["console", BOARD, "--tail", "0"], otherQa, "version\n");
  assert.is(piped.code, 64);
  assert.match(piped.stderr, /held by qa-bench/);
  const reset = await hil(["reset", BOARD], otherQa);
  assert.is(reset.code, 64);
  assert.match(reset.stderr, /held by qa-bench/);
  assert.is((await hil(["console", "no-such-board", "--send", "x"], qa)).code, 64);
});

test("hil run --commit keeps the commit with the run; GET /runs?commit= finds it by prefix", async () => {
  const file = await appFile(lab);
  const r = await hil([...submitArgs(file), "--commit", "C0FFEE42abc"], CI_TOKEN);
  assert.is(r.code, 0, r.stderr);
  const id = runIdOf(r.stdout);
  assert.is((await lab.getRun(id)).request.ci?.commit, "C0FFEE42abc");
  const found = await lab.api<{ runs: Run[] }>("GET", "/api/v1/runs?commit=c0ffee4");
  assert.equal(found.body.runs.map((x) => x.id), [id]);
  assert.is((await hil([...submitArgs(file), "--commit", "x".repeat(129)], CI_TOKEN)).code, 64);
});

test.run();
