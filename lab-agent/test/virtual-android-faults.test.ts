import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { startVirtualAndroidFleet, type VirtualAndroidFleet } from "../src/virtual/android/index.js";
import { AdbHarness } from "./fixtures/adb-harness.js";
import { apkToolMissing, buildTestApk } from "./fixtures/test-apk.js";

interface Ctx {
  h: AdbHarness;
  fleet: VirtualAndroidFleet;
  dir: string;
}

const faults = suite<Ctx>("virtual Android faults on demand, seen by the real adb");

faults.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "hil-vandroid-faults-"));
  ctx.fleet = await startVirtualAndroidFleet({ count: 2, bootDelayMs: 300, controlDir: ctx.dir });
  ctx.h = await AdbHarness.start();
});

faults.after(async (ctx) => {
  await ctx.h?.stop();
  await ctx.fleet?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

/** Sends one line to a board's control socket, as a script would with socat. */
function control(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => s.write(`${line}\n`));
    let answer = "";
    s.on("data", (d) => {
      answer += d.toString("utf8");
      if (answer.endsWith("\n")) {
        s.end();
        resolve(answer.trim());
      }
    });
    s.on("error", reject);
  });
}

const board = (ctx: Ctx, i: number) => ctx.fleet.boards[i]!;

faults("unauthorized: adb connect fails to authenticate and the device lists as unauthorized", async (ctx) => {
  const b = board(ctx, 1);
  assert.is(await control(b.controlPath!, "unauthorized"), "ok unauthorized");
  const r = await ctx.h.adb(["connect", b.board.adbSerial]);
  assert.is(r.stdout.trim(), `failed to authenticate to ${b.board.adbSerial}`);
  await ctx.h.waitForState(b.board.adbSerial, "unauthorized");
  const sh = await ctx.h.adb(["-s", b.board.adbSerial, "shell", "true"]);
  assert.is(sh.code, 1);
  assert.match(sh.stderr, /device unauthorized/);
  assert.is(await control(b.controlPath!, "online"), "ok online");
  await ctx.h.adb(["disconnect", b.board.adbSerial]);
  assert.match((await ctx.h.adb(["connect", b.board.adbSerial])).stdout, /^connected to /);
});

faults("offline: a connected device goes offline and commands fail; online brings it back", async (ctx) => {
  const b = board(ctx, 0);
  assert.match((await ctx.h.adb(["connect", b.board.adbSerial])).stdout, /^connected to /);
  await ctx.h.waitForState(b.board.adbSerial, "device");
  assert.is(await control(b.controlPath!, "offline"), "ok offline");
  await ctx.h.waitForState(b.board.adbSerial, "offline");
  const sh = await ctx.h.adb(["-s", b.board.adbSerial, "shell", "true"]);
  assert.is(sh.code, 1);
  assert.match(sh.stderr, /device offline/);
  await control(b.controlPath!, "online");
  await ctx.h.adb(["disconnect", b.board.adbSerial]);
  await ctx.h.adb(["connect", b.board.adbSerial]);
  await ctx.h.waitForState(b.board.adbSerial, "device");
});

faults("disconnect mid-transfer: a 4 MiB push is cut after 1 MiB and adb push fails", async (ctx) => {
  const b = board(ctx, 0);
  const file = join(ctx.dir, "big.bin");
  writeFileSync(file, randomBytes(4 * 1024 * 1024));
  assert.is(await control(b.controlPath!, "disconnect-after 1048576"), "ok disconnect after 1048576 bytes");
  const r = await ctx.h.adb(["-s", b.board.adbSerial, "push", file, "/data/local/tmp/big.bin"]);
  assert.is(r.code, 1, "the push must fail, not report success");
  assert.not.ok(b.board.state.fs.stat("/data/local/tmp/big.bin"), "no partial file left behind");
  await ctx.h.adb(["disconnect", b.board.adbSerial]);
  await ctx.h.adb(["connect", b.board.adbSerial]);
  await ctx.h.waitForState(b.board.adbSerial, "device");
});

faults("install-fail: the next install answers INSTALL_FAILED_INSUFFICIENT_STORAGE, then installs work again", async (ctx) => {
  const skip = apkToolMissing();
  if (skip) return console.log(skip);
  const b = board(ctx, 0);
  const apk = buildTestApk(ctx.dir, { packageName: "com.example.faulty", versionCode: 1, versionName: "1" });
  assert.is(await control(b.controlPath!, "install-fail INSTALL_FAILED_INSUFFICIENT_STORAGE"), "ok install-fail INSTALL_FAILED_INSUFFICIENT_STORAGE");
  const r = await ctx.h.adb(["-s", b.board.adbSerial, "install", apk]);
  assert.is(r.code, 1);
  assert.match(r.stderr, /adb: failed to install .*: Failure \[INSTALL_FAILED_INSUFFICIENT_STORAGE\]/);
  const again = await ctx.h.adb(["-s", b.board.adbSerial, "install", apk]);
  assert.is(again.code, 0, again.stderr);
});

faults("boot-hang: after a reboot sys.boot_completed never appears until the fault is lifted", async (ctx) => {
  const b = board(ctx, 0);
  assert.is(await control(b.controlPath!, "boot-hang on"), "ok boot-hang on");
  assert.is(await control(b.controlPath!, "reboot"), "ok booting");
  await ctx.h.adb(["disconnect", b.board.adbSerial]);
  await ctx.h.adb(["connect", b.board.adbSerial]);
  await ctx.h.waitForState(b.board.adbSerial, "device");
  await delay(800);
  const prop = () => ctx.h.adb(["-s", b.board.adbSerial, "shell", "getprop", "sys.boot_completed"]);
  assert.is((await prop()).stdout, "\n", "adbd is up but the boot never completes");
  assert.match(await control(b.controlPath!, "status"), /^ok booting adb 127\.0\.0\.1:\d+ fastboot tcp:127\.0\.0\.1:\d+ greeting device boot-hang$/);
  assert.is(await control(b.controlPath!, "boot-hang off"), "ok boot-hang off");
  assert.is((await prop()).stdout, "1\n");
});

faults("control rejects unknown commands and bad arguments with a usable message", async (ctx) => {
  const path = board(ctx, 0).controlPath!;
  assert.match(await control(path, "explode"), /^error unknown command "explode"; use status \| offline/);
  assert.is(await control(path, "disconnect-after lots"), "error usage: disconnect-after <bytes>");
  assert.match(await control(path, "instrumentation com.x.test {bad"), /^error bad instrumentation script/);
  assert.is(await control(path, 'instrumentation com.x.test {"tests":[{"class":"a.B","name":"c"}]}'), "ok instrumentation com.x.test");
});

faults.run();
