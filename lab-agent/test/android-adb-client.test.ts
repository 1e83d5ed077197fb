// The Android driver's adb/fastboot client against a virtual Android, through Debian's real adb and
// fastboot and a private adb server.
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { LabError } from "@hil/contracts";
import { AdbClient } from "../src/drivers/android/adb-client.js";
import { InstrumentationParser } from "../src/drivers/android/instrumentation-parser.js";
import { executeAndroidControl, VirtualAndroid } from "../src/virtual/android/index.js";
import { AdbHarness } from "./fixtures/adb-harness.js";
import { apkToolMissing, buildTestApk } from "./fixtures/test-apk.js";

interface Ctx {
  h: AdbHarness;
  dev: VirtualAndroid;
  client: AdbClient;
  dir: string;
  apk: string;
  testApk: string;
}

const it = suite<Ctx>("AdbClient against a virtual Android");

it.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "hil-adbclient-"));
  ctx.dev = new VirtualAndroid({ id: "client-test", bootDelayMs: 300 });
  await ctx.dev.start();
  ctx.h = await AdbHarness.start();
  ctx.client = new AdbClient({ serial: ctx.dev.adbSerial, serverPort: ctx.h.port, env: ctx.h.env, fastbootSerial: ctx.dev.fastbootSerial });
  await ctx.client.connect();
  await ctx.client.waitForBoot(Date.now() + 10_000);
  if (!apkToolMissing()) {
    ctx.apk = buildTestApk(join(ctx.dir, "app"), { packageName: "com.hil.app", versionCode: 1, versionName: "1.0", permissions: ["android.permission.CAMERA"], padBytes: 300_000 });
    ctx.testApk = buildTestApk(join(ctx.dir, "test"), { packageName: "com.hil.app.test", versionCode: 1, versionName: "1.0", instrumentation: { runner: "androidx.test.runner.AndroidJUnitRunner", targetPackage: "com.hil.app" } });
  }
});

it.after(async (ctx) => {
  await ctx.h?.stop();
  await ctx.dev?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

async function rejects(p: Promise<unknown>): Promise<LabError> {
  try {
    await p;
  } catch (err) {
    return err as LabError;
  }
  throw new Error("expected a rejection");
}

it("shell returns stdout, stderr and the real exit code", async (ctx) => {
  const r = await ctx.client.shell("echo out; echo err >&2; exit 7", { timeoutMs: 10_000 });
  assert.equal(r, { stdout: "out\n", stderr: "err\n", exitCode: 7 });
  assert.is((await ctx.client.shell("frobnicate", { timeoutMs: 10_000 })).exitCode, 127);
  assert.is(await ctx.client.getprop("sys.boot_completed"), "1");
});

it("shell timeout kills the client and says so", async (ctx) => {
  const e = await rejects(ctx.client.shell("sleep 5", { timeoutMs: 300 }));
  assert.is(e.code, "STEP_TIMEOUT");
  assert.match(e.message, /did not finish within/);
});

it("push: the bytes arrive intact", async (ctx) => {
  const data = randomBytes(2 * 1024 * 1024 + 17);
  const file = join(ctx.dir, "blob.bin");
  writeFileSync(file, data);
  await ctx.client.push(file, "/data/local/tmp/blob.bin", { timeoutMs: 30_000 });
  const back = join(ctx.dir, "back.bin");
  const pulled = await ctx.client.adb(["pull", "/data/local/tmp/blob.bin", back], { timeoutMs: 30_000 });
  assert.is(pulled.exitCode, 0, pulled.stderr);
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  assert.is(sha(readFileSync(back)), sha(data));
});

it("install (replace, grant) a real APK; INSTALL_FAILED_* is a test failure with the reason", async (ctx) => {
  if (!ctx.apk) return console.log(apkToolMissing());
  assert.match(await ctx.client.install(ctx.apk, { replace: true, grant: true, timeoutMs: 30_000 }), /^Success/);
  assert.match((await ctx.client.shell("pm list packages -3", { timeoutMs: 10_000 })).stdout, /package:com\.hil\.app\n/);
  assert.match(await ctx.client.install(ctx.apk, { replace: true, timeoutMs: 30_000 }), /^Success/, "replace keeps working");
  // the agent's artifact cache names files by their hash: no .apk, which adb itself refuses
  const hashed = join(ctx.dir, "0a1b2c3d4e5f");
  copyFileSync(ctx.apk, hashed);
  assert.match(await ctx.client.install(hashed, { replace: true, timeoutMs: 30_000 }), /^Success/, "a file named without .apk installs");
  assert.is(await executeAndroidControl(ctx.dev, "install-fail INSTALL_FAILED_INSUFFICIENT_STORAGE"), "ok install-fail INSTALL_FAILED_INSUFFICIENT_STORAGE");
  const e = await rejects(ctx.client.install(ctx.apk, { replace: true, timeoutMs: 30_000 }));
  assert.is(e.code, "TEST_FAILED");
  assert.is(e.infra, false);
  assert.match(e.message, /refused com\.hil\.app\.apk: INSTALL_FAILED_INSUFFICIENT_STORAGE/);
});

it("am instrument through adb shell, parsed as it streams", async (ctx) => {
  if (!ctx.testApk) return console.log(apkToolMissing());
  await ctx.client.install(ctx.apk, { replace: true, timeoutMs: 30_000 });
  await ctx.client.install(ctx.testApk, { replace: true, timeoutMs: 30_000 });
  ctx.dev.state.instrumentation.set("com.hil.app.test", {
    tests: [
      { class: "com.hil.LoginTest", name: "opens" },
      { class: "com.hil.LoginTest", name: "badPin", result: "fail", stack: "java.lang.AssertionError: pin rejected" },
      { class: "com.hil.LoginTest", name: "later", result: "ignored" },
    ],
  });
  const runner = "com.hil.app.test/androidx.test.runner.AndroidJUnitRunner";
  const parser = new InstrumentationParser({ runner });
  const streamed: string[] = [];
  const r = await ctx.client.shell(`am instrument -r -w ${runner}`, { timeoutMs: 30_000, onStdout: (t) => parser.feed(t).forEach((c) => streamed.push(`${c.name}=${c.outcome}`)) });
  assert.is(r.exitCode, 0);
  assert.equal(streamed, ["opens=pass", "badPin=fail", "later=skip"]);
  const s = parser.finish();
  assert.is(s.cases[1]!.message, "java.lang.AssertionError: pin rejected");
  assert.ok(s.complete);

  const missing = new InstrumentationParser({ runner: "com.nope.test/Runner" });
  const m = await ctx.client.shell("am instrument -r -w com.nope.test/Runner", { timeoutMs: 30_000, onStdout: (t) => void missing.feed(t) });
  missing.noteStderr(m.stderr);
  assert.throws(() => missing.finish(), (e: LabError) => e.code === "TEST_FAILED" && e.message.includes("com.nope.test/Runner"));
});

it("logcat streams threadtime lines", async (ctx) => {
  let text = "";
  const stream = ctx.client.logcat((b) => (text += Buffer.from(b).toString("utf8")), () => undefined);
  try {
    await ctx.client.shell("log -t HilMark hello-from-test || true", { timeoutMs: 10_000 });
    const deadline = Date.now() + 5000;
    while (!/^\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+\d+\s+\d+ [VDIWEF] /m.test(text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(text, /^\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+\d+\s+\d+ [VDIWEF] /m);
  } finally {
    stream.stop();
  }
});

it("a device that drops mid-push is an infrastructure error", async (ctx) => {
  const file = join(ctx.dir, "big.bin");
  writeFileSync(file, randomBytes(4 * 1024 * 1024));
  await executeAndroidControl(ctx.dev, "disconnect-after 1048576");
  const e = await rejects(ctx.client.push(file, "/data/local/tmp/big.bin", { timeoutMs: 30_000 }));
  assert.ok(e.infra, `${e.code}: ${e.message}`);
  assert.ok(e.code === "LINK_CLOSED" || e.code === "BOARD_VANISHED", e.code);
  await ctx.client.waitForBoot(Date.now() + 15_000);
});

it("an install cut mid-transfer is an infrastructure error, not a refused package", async (ctx) => {
  if (!ctx.apk) return console.log(apkToolMissing());
  const big = buildTestApk(join(ctx.dir, "big"), { packageName: "com.hil.big", versionCode: 1, versionName: "1.0", padBytes: 4 * 1024 * 1024 });
  await executeAndroidControl(ctx.dev, "disconnect-after 1048576");
  const e = await rejects(ctx.client.install(big, { replace: true, timeoutMs: 30_000 }));
  assert.ok(e.infra, `${e.code}: ${e.message}`);
  await ctx.client.waitForBoot(Date.now() + 15_000);
});

it("adb 29 exits 0 when the transport drops mid-command; ensureAttached catches it", async (ctx) => {
  setTimeout(() => void executeAndroidControl(ctx.dev, "unplug"), 400);
  const r = await ctx.client.shell("sleep 3", { timeoutMs: 10_000 });
  assert.equal(r, { stdout: "", stderr: "", exitCode: 0 }, "what the real client reports for a cut stream");
  const e = await rejects(ctx.client.ensureAttached("sleep 3"));
  assert.ok(e.infra, `${e.code}: ${e.message}`);
  await executeAndroidControl(ctx.dev, "replug");
  await ctx.client.waitForBoot(Date.now() + 15_000);
  await ctx.client.ensureAttached("after replug");
});

it("offline and unplugged devices are infrastructure errors; waitForBoot gives up at its deadline", async (ctx) => {
  await executeAndroidControl(ctx.dev, "offline");
  const off = await rejects(ctx.client.shell("echo hi", { timeoutMs: 15_000 }));
  assert.ok(off.infra, `${off.code}: ${off.message}`);
  await executeAndroidControl(ctx.dev, "online");
  await ctx.client.disconnect();
  await ctx.client.waitForBoot(Date.now() + 15_000);
  await executeAndroidControl(ctx.dev, "unplug");
  const gone = await rejects(ctx.client.shell("echo hi", { timeoutMs: 15_000 }));
  assert.ok(gone.infra, `${gone.code}: ${gone.message}`);
  const never = await rejects(ctx.client.waitForBoot(Date.now() + 1500));
  assert.is(never.code, "BOARD_VANISHED");
  await executeAndroidControl(ctx.dev, "replug");
  await ctx.client.waitForBoot(Date.now() + 15_000);
});

it("reboot into the bootloader, fastboot flash, back to adb", async (ctx) => {
  const img = join(ctx.dir, "boot.img");
  writeFileSync(img, randomBytes(3 * 1024 * 1024));
  const early = await rejects(ctx.client.fastboot(["getvar", "product"], { timeoutMs: 1500 }));
  assert.is(early.code, "BOARD_VANISHED", "fastboot against a board still in Android must not hang forever");
  await ctx.client.reboot("bootloader");
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await ctx.client.fastboot(["getvar", "product"], { timeoutMs: 1500 }).catch(() => undefined);
    if (r && /product:/.test(r.stderr)) break;
    assert.ok(Date.now() < deadline, "the bootloader never answered");
  }
  await ctx.client.flashPartition("boot", img, { timeoutMs: 30_000 });
  const bad = await rejects(ctx.client.flashPartition("nosuchpart", img, { timeoutMs: 30_000 }));
  assert.is(bad.code, "IMAGE_INVALID");
  await ctx.client.fastboot(["reboot"], { timeoutMs: 10_000 });
  await ctx.client.waitForBoot(Date.now() + 20_000);
  assert.is(await ctx.client.getprop("sys.boot_completed"), "1");
});

it.run();
