/**
 * `npm run bench -- android [--rounds 3] [--push-mib 64] [--flash-mib 256] [--apk-mib 20]`
 *
 * Debian's real `adb` and `fastboot` against a virtual Android in a child `hil virtual android`
 * process (so the device's CPU is not ours), each transfer beside a raw loopback TCP copy of the same
 * bytes measured in the same run:
 *  - `adb push` of 64 MiB (sync protocol, 64 KiB WRTE packets, through the adb server);
 *  - `fastboot flash` of 256 MiB (download + flash, one transfer under max-download-size);
 *  - through a lab (`hil scheduler`, `hil agent --virtual android=1`): from the `hil run` submit of
 *    `android-instrumentation` with a 20 MiB app APK to the first instrumentation result in the
 *    board's log (upload, queue, artifact fetch, install of both APKs, `am instrument`).
 * Figures are medians of --rounds rounds; ratios are the tool's time over the raw copy's.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { LogLine } from "@hil/contracts";
import { apkToolMissing, buildTestApk } from "@hil/lab-agent";
import { spawnHil } from "@hil/test-kit";
import { AdbHarness } from "../lab-agent/test/fixtures/adb-harness.js";
import { startLab } from "../cli/test/lab-fixture.js";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, "push-mib": { type: "string", default: "64" }, "flash-mib": { type: "string", default: "256" }, "apk-mib": { type: "string", default: "20" } } });
const rounds = Number(values.rounds);
const MiB = 1024 * 1024;
const pushBytes = Number(values["push-mib"]) * MiB;
const flashBytes = Number(values["flash-mib"]) * MiB;
const apkBytes = Number(values["apk-mib"]) * MiB;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const seconds = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e9;

/** Sends `data` over a loopback TCP connection to a server that reads it all and answers one byte. */
async function rawCopy(data: Buffer): Promise<number> {
  const server = createServer((s) => {
    let got = 0;
    s.on("data", (d: Buffer) => {
      got += d.length;
      if (got >= data.length) s.end(Buffer.from([1]));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const c = connect({ host: "127.0.0.1", port }, () => c.end(data));
      c.on("data", () => resolve());
      c.on("error", reject);
    });
    return seconds(t0);
  } finally {
    server.close();
  }
}

async function timed(what: string, fn: () => Promise<{ code: number; stderr: string }>): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  const s = seconds(t0);
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}`);
  return s;
}

function row(name: string, bytes: number, tool: number[], raw: number[]): string {
  const t = median(tool);
  const r = median(raw);
  return `${name.padEnd(34)} ${(bytes / MiB).toFixed(0).padStart(5)} MiB  ${t.toFixed(2).padStart(7)} s  ${(bytes / MiB / t).toFixed(1).padStart(7)} MiB/s   raw TCP ${r.toFixed(3).padStart(6)} s  ${(t / r).toFixed(1).padStart(6)}×`;
}

async function transfers(dir: string): Promise<string[]> {
  const device = spawnHil(["virtual", "android", "--count", "1", "--boot-delay", "300"]);
  const h = await AdbHarness.start();
  try {
    const out = await device.waitFor(/adb connect (\S+)\s+fastboot -s (\S+)/, 60_000);
    const [adbSerial, fastbootSerial] = [out[1]!, out[2]!];
    if ((await h.adb(["connect", adbSerial])).code !== 0) throw new Error(`adb connect ${adbSerial} failed`);
    await h.waitForState(adbSerial, "device", 30_000);

    const pushData = randomBytes(pushBytes);
    const pushFile = join(dir, "push.bin");
    await writeFile(pushFile, pushData);
    const push: number[] = [];
    const pushRaw: number[] = [];
    for (let i = 0; i < rounds; i++) {
      pushRaw.push(await rawCopy(pushData));
      push.push(await timed("adb push", () => h.adb(["-s", adbSerial, "push", pushFile, "/data/local/tmp/bench.bin"], 600_000)));
      await h.adb(["-s", adbSerial, "shell", "rm", "/data/local/tmp/bench.bin"]);
    }

    await h.adb(["-s", adbSerial, "reboot", "bootloader"]);
    const flashData = randomBytes(flashBytes);
    const flashFile = join(dir, "system.img");
    await writeFile(flashFile, flashData);
    // the bootloader is up once getvar answers
    for (let t = Date.now(); (await h.fastboot(["-s", fastbootSerial, "getvar", "product"], 5_000)).code !== 0; ) {
      if (Date.now() - t > 30_000) throw new Error("fastboot never came up");
    }
    const flash: number[] = [];
    const flashRaw: number[] = [];
    for (let i = 0; i < rounds; i++) {
      flashRaw.push(await rawCopy(flashData));
      flash.push(await timed("fastboot flash", () => h.fastboot(["-s", fastbootSerial, "flash", "system_a", flashFile], 600_000)));
    }
    await h.fastboot(["-s", fastbootSerial, "reboot"], 30_000);
    return [row("adb push (real adb, sync v1/v2)", pushBytes, push, pushRaw), row("fastboot flash system_a (real fastboot)", flashBytes, flash, flashRaw)];
  } finally {
    await h.stop();
    await device.stop();
  }
}

/** Submit → first instrumentation result of a run, through a whole lab. */
async function throughLab(dir: string): Promise<string> {
  const lab = await startLab({ schedulerEnv: { HIL_UPLOAD_MAX: "256MiB" } });
  try {
    await lab.startAgent("an", ["--virtual", "android=1"]);
    const tests = buildTestApk(join(dir, "tests"), {
      packageName: "com.example.app.test",
      versionCode: 1,
      versionName: "1.0",
      instrumentation: { runner: "androidx.test.runner.AndroidJUnitRunner", targetPackage: "com.example.app" },
      instrumentationScript: { tests: [{ class: "com.example.app.SmokeTest", name: "opens", result: "pass", durationMs: 5, log: [] }] },
    });
    const times: number[] = [];
    const raws: number[] = [];
    const apk = randomBytes(apkBytes);
    for (let i = 0; i < rounds; i++) {
      raws.push(await rawCopy(apk));
      // a new version each round, so the agent's cache cannot skip the fetch
      const app = buildTestApk(join(dir, `app-${i}`), { packageName: "com.example.app", versionCode: 1 + i, versionName: `1.${i}`, padBytes: apkBytes });
      const from = Date.now();
      const run = lab.hil(["run", "--suite", "android-instrumentation", "--profile", "android-virtual", "--artifact", `app=${app}`, "--artifact", `test-apk=${tests}`, "--wait"]);
      let ended = false;
      const exited = run.exited.then((code) => ((ended = true), code));
      const seen = await firstResult(lab, from, () => ended);
      if ((await exited) !== 0 || seen === undefined) throw new Error(`run failed or showed no instrumentation result:\n${run.output()}`);
      times.push(seen);
    }
    return row("hil run → first instrumentation result", apkBytes, times, raws);
  } finally {
    await lab.stop();
  }
}

/** Seconds from `from` to the first "TestRunner: finished:" logcat line after it in the board's log; undefined if the run ended without one. */
async function firstResult(lab: Awaited<ReturnType<typeof startLab>>, from: number, ended: () => boolean): Promise<number | undefined> {
  const key = lab.keys.boardLog("an-vandroid-0");
  // from the run's submit on (stream ids are sequence numbers, so read by time from the start)
  let last = "0-0";
  for (;;) {
    const res = (await lab.redis.xread("BLOCK", 1000, "STREAMS", key, last)) as [string, [string, string[]][]][] | null;
    for (const [, entries] of res ?? []) {
      for (const [id, fields] of entries) {
        last = id;
        const line = JSON.parse(fields[1] ?? "{}") as LogLine;
        if (line.wall >= from && /TestRunner.*finished:/.test(line.text)) return (line.wall - from) / 1000;
      }
    }
    if (ended()) return undefined;
  }
}

const missing = apkToolMissing();
if (missing) {
  console.log(`bench android needs Debian's aapt, adb and fastboot: ${missing} (npm run sysdeps)`);
  process.exit(1);
}
const dir = await mkdtemp(join(tmpdir(), "hil-bench-android-"));
try {
  console.log(`android bench: ${rounds} rounds, medians; ratio = tool time / raw loopback TCP copy of the same bytes\n`);
  console.log(`${"".padEnd(34)} ${"size".padStart(9)}  ${"time".padStart(9)}  ${"rate".padStart(13)}   ${"reference".padStart(17)}  ratio`);
  for (const r of await transfers(dir)) console.log(r);
  // the suite names its runner com.example.app.test/androidx.test.runner.AndroidJUnitRunner
  console.log(await throughLab(dir));
} finally {
  await rm(dir, { recursive: true, force: true });
}
