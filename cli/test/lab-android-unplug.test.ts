// Android boards that fail under a run, end to end: `hil agent --virtual android=1 --virtual-control DIR` hosts a
// virtual Android whose control socket pulls its cable mid-install (`unplug-after BYTES`). The attempt ends as an
// infrastructure error (exit 2 when it cannot be retried), the run is retried on another board and passes there,
// and `offline` / `unauthorized` show in `hil boards --json` as the board's state until the device is back.
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ERROR_CODES, type AgentHello, type Board, type LabErrorCode, type Run } from "@hil/contracts";
import { apkToolMissing, buildTestApk, ControlSocketReset, VirtualAndroid } from "@hil/lab-agent";
import { waitUntil } from "@hil/test-kit";
import { runIdOf, startLab, type Lab } from "./lab-fixture.js";

const RUNNER = "androidx.test.runner.AndroidJUnitRunner";
/** The app APK is 4 MiB: the cable is pulled after 1 MiB of it, mid-install. */
const CUT_AFTER = 1024 * 1024;
const skip = apkToolMissing() ?? (existsSync("/usr/bin/adb") ? null : "needs Debian's adb at /usr/bin/adb");
let lab: Lab;
let app = "";
let tests = "";

const boardOf = (agent: string) => `${agent}-vandroid-0`;
const ctlDir = (agent: string) => join(lab.dir, `ctl-${agent}`);
const control = (agent: string, line: string) => new ControlSocketReset(join(ctlDir(agent), `${boardOf(agent)}.ctl`)).command(line);
const isInfra = (code: string | undefined): boolean => code !== undefined && ERROR_CODES[code as LabErrorCode]?.infra === true;

async function startAndroidAgent(name: string): Promise<void> {
  await lab.startAgent(name, ["--virtual", "android=1", "--virtual-control", ctlDir(name)]);
  await waitUntil(`${boardOf(name)} idle`, async () => (await boardsJson()).find((b) => b.id === boardOf(name))?.state === "idle", 60_000);
}

/** What `hil boards --json` says. */
async function boardsJson(): Promise<Board[]> {
  const p = lab.hil(["boards", "--json"]);
  if ((await p.exited) !== 0) throw new Error(`hil boards --json failed:\n${p.output()}`);
  return JSON.parse(p.output()) as Board[];
}

async function waitForState(board: string, state: string): Promise<void> {
  await waitUntil(`${board} ${state} in hil boards --json`, async () => (await boardsJson()).find((b) => b.id === board)?.state === state, 60_000);
}

function submit(extra: string[]): ReturnType<Lab["hil"]> {
  return lab.hil(["run", "--suite", "android-instrumentation", "--profile", "android-virtual", "--artifact", `app=${app}`, "--artifact", `test-apk=${tests}`, "--timeout", "5m", "--wait", ...extra]);
}

async function runOf(p: ReturnType<Lab["hil"]>): Promise<Run> {
  const id = await waitUntil("the run submitted", () => {
    try {
      return runIdOf(p.output());
    } catch {
      return undefined;
    }
  });
  return lab.getRun(id);
}

if (skip) {
  console.log(`[skip] Android unplug tests not run: ${skip}`);
} else {
  test.before(async () => {
    lab = await startLab();
    const dir = await mkdtemp(join(lab.dir, "apk-"));
    app = buildTestApk(join(dir, "app"), { packageName: "com.example.app", versionCode: 1, versionName: "1.0", padBytes: 4 * 1024 * 1024 });
    tests = buildTestApk(join(dir, "tests"), {
      packageName: "com.example.app.test",
      versionCode: 1,
      versionName: "1.0",
      instrumentation: { runner: RUNNER, targetPackage: "com.example.app" },
      instrumentationScript: { tests: [{ class: "com.example.app.LoginTest", name: "opens", result: "pass", durationMs: 5, log: [] }] },
    });
  });
  test.after(async () => {
    await lab?.stop();
  });

  test("the only board unplugged mid-install, no retry allowed: hil run exits 2 and the board shows offline", async () => {
    await startAndroidAgent("u3");
    assert.match(await control("u3", `unplug-after ${CUT_AFTER}`), /^ok unplug after/);
    const run = submit(["--max-attempts", "1"]);
    assert.is(await run.exited, 2, run.output());
    const r = await runOf(run);
    assert.is(r.state, "error");
    assert.is(r.attempts.length, 1);
    assert.equal(r.attempts[0]?.boards, { dut: boardOf("u3") });
    assert.ok(isInfra(r.attempts[0]?.error?.code), JSON.stringify(r.attempts[0]?.error));
    assert.match(r.steps[0]?.message ?? r.error?.message ?? "", /com\.example\.app|install|adb/i);
    await waitForState(boardOf("u3"), "offline");
    // a clean stop (exit 0 within the 3 s grace), so the agent also stops its adb server rather than leave it behind
    const u3 = lab.agents.get("u3")!;
    await u3.stop();
    assert.is(await u3.exited, 0, u3.output().slice(-2000));
  });

  test("unauthorized and offline devices show as their boards' state in hil boards --json, and idle again when back", async () => {
    await startAndroidAgent("u1");
    await startAndroidAgent("u2");
    const board = boardOf("u2");
    assert.match(await control("u2", "unauthorized"), /^ok/);
    await waitForState(board, "unauthorized");
    assert.match(await control("u2", "online"), /^ok/);
    await waitForState(board, "idle");
    assert.match(await control("u2", "offline"), /^ok/);
    await waitForState(board, "offline");
    assert.match(await control("u2", "online"), /^ok/);
    await waitForState(board, "idle");
    assert.is((await boardsJson()).find((b) => b.id === boardOf("u1"))?.state, "idle", "the other board was never touched");
  });

  test("a device unplugged mid-install: the attempt is an infrastructure error, the run is retried on the other board and passes", async () => {
    // the other board unauthorized for now: nothing is dispatched to it, so the first attempt can only land on u1's
    assert.match(await control("u2", "unauthorized"), /^ok/);
    await waitForState(boardOf("u2"), "unauthorized");
    assert.match(await control("u1", `unplug-after ${CUT_AFTER}`), /^ok unplug after/);
    const run = submit([]);
    const id = (await runOf(run)).id;
    await waitUntil("the first attempt on u1's board", async () => (await lab.getRun(id)).attempts[0]?.boards["dut"] === boardOf("u1"), 60_000);
    assert.match(await control("u2", "online"), /^ok/);
    assert.is(await run.exited, 0, run.output());
    const r = await lab.getRun(id);
    assert.is(r.state, "passed");
    assert.equal(r.attempts.map((a) => [a.boards["dut"], a.outcome]), [[boardOf("u1"), "error"], [boardOf("u2"), "pass"]]);
    assert.ok(isInfra(r.attempts[0]?.error?.code), JSON.stringify(r.attempts[0]?.error));
    await waitForState(boardOf("u1"), "offline");
    assert.match(await control("u1", "replug"), /^ok/);
    await waitForState(boardOf("u1"), "idle");
  });

  test("both devices unplugged mid-install: hil run exits 2 after a retry on the other board", async () => {
    assert.match(await control("u1", `unplug-after ${CUT_AFTER}`), /^ok/);
    assert.match(await control("u2", `unplug-after ${CUT_AFTER}`), /^ok/);
    const run = submit(["--max-attempts", "2"]);
    assert.is(await run.exited, 2, run.output());
    const r = await runOf(run);
    assert.is(r.state, "error");
    assert.equal(r.attempts.map((a) => a.outcome), ["error", "error"]);
    assert.equal(r.attempts.map((a) => a.boards["dut"]).sort(), [boardOf("u1"), boardOf("u2")], "the retry ran on the other board");
    for (const a of r.attempts) assert.ok(isInfra(a.error?.code), JSON.stringify(a.error));
    await waitForState(boardOf("u1"), "offline");
    await waitForState(boardOf("u2"), "offline");
    assert.match(await control("u1", "replug"), /^ok/);
    assert.match(await control("u2", "replug"), /^ok/);
    await waitForState(boardOf("u1"), "idle");
    await waitForState(boardOf("u2"), "idle");
  });

  test("--adb-connect: a device on the network is matched by its properties and listed beside the others; one no profile fits is not, and the agent's heartbeat says why", async () => {
    const phone = new VirtualAndroid({ id: "net-phone", bootDelayMs: 200 });
    const stranger = new VirtualAndroid({ id: "net-stranger", bootDelayMs: 200, identity: { model: "Pixel 8", product: "shiba", device: "shiba", sdk: 34 } });
    await phone.start();
    await stranger.start();
    try {
      await lab.startAgent("u3", ["--adb-connect", `${phone.adbSerial},${stranger.adbSerial}`]);
      const id = `android-virtual-${phone.adbSerial.replace(":", "-")}`;
      const board = await waitUntil("the network phone listed", async () => (await boardsJson()).find((b) => b.id === id && b.state === "idle"), 60_000);
      assert.is(board.agent, "u3");
      assert.is(board.profile, "android-virtual");
      assert.is(board.endpoint, `adb:${phone.adbSerial}`);
      assert.equal([board.identity.model, board.identity.product], ["HIL Virtual Phone", "hil_phone"]);
      const hello = await waitUntil("the stranger in u3's heartbeat", async () => {
        const raw = await lab.redis.get(lab.keys.agent("u3"));
        const h = raw ? (JSON.parse(raw) as AgentHello) : undefined;
        return h?.unmatched?.some((u) => u.serial === stranger.adbSerial) ? h : undefined;
      }, 60_000);
      assert.match(hello.unmatched?.find((u) => u.serial === stranger.adbSerial)?.reason ?? "", /model "Pixel 8".* fits no Android profile/);
      assert.ok(!(await boardsJson()).some((b) => b.endpoint === `adb:${stranger.adbSerial}`), "no board for the stranger");
      const u3 = lab.agents.get("u3")!;
      await u3.stop();
      assert.is(await u3.exited, 0, u3.output().slice(-2000));
    } finally {
      await phone.stop();
      await stranger.stop();
    }
  });

  test.run();
}
