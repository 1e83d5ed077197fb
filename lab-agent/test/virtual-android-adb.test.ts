import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { DEFAULT_ADB_FEATURES, VirtualAndroid } from "../src/virtual/android/index.js";
import { AdbHarness } from "./fixtures/adb-harness.js";
import { apkToolMissing, buildTestApk } from "./fixtures/test-apk.js";

interface Ctx {
  h: AdbHarness;
  dev: VirtualAndroid;
  serial: string;
  dir: string;
}

const adb = suite<Ctx>("real adb against a virtual Android");

adb.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "hil-vandroid-"));
  ctx.dev = new VirtualAndroid({ id: "adb-test", bootDelayMs: 400, identity: { model: "Pixel HIL", product: "hil_oriole", device: "oriole", sdk: 33, release: "13" } });
  await ctx.dev.start();
  ctx.h = await AdbHarness.start();
  ctx.serial = ctx.dev.adbSerial;
  const r = await ctx.h.adb(["connect", ctx.serial]);
  assert.is(r.stdout.trim(), `connected to ${ctx.serial}`);
});

adb.after(async (ctx) => {
  await ctx.h?.stop();
  await ctx.dev?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const sh = (ctx: Ctx, ...args: string[]) => ctx.h.adb(["-s", ctx.serial, "shell", ...args]);

adb("adb devices -l shows the banner's product, model and device", async (ctx) => {
  const r = await ctx.h.adb(["devices", "-l"]);
  assert.match(r.stdout, new RegExp(`${ctx.serial.replace(/\./g, "\\.")}\\s+device product:hil_oriole model:Pixel_HIL device:oriole transport_id:\\d+`));
  assert.ok(ctx.dev.adbPort < 5555 || ctx.dev.adbPort > 5585, "never in adb's emulator scan range");
});

adb("shell v2: stdout and stderr apart, exit codes passed through", async (ctx) => {
  const r = await sh(ctx, "echo out; echo err >&2; exit 3");
  assert.is(r.code, 3);
  assert.is(r.stdout, "out\n");
  assert.is(r.stderr, "err\n");
  assert.is((await sh(ctx, "exit 3")).code, 3);
  const missing = await sh(ctx, "frobnicate", "--now");
  assert.is(missing.code, 127);
  assert.is(missing.stderr, "/system/bin/sh: frobnicate: inaccessible or not found\n");
  const chain = await sh(ctx, "false || echo fallback && sh -c 'exit 5'");
  assert.is(chain.stdout, "fallback\n");
  assert.is(chain.code, 5);
  assert.is((await sh(ctx, "id")).stdout.split(" ")[0], "uid=2000(shell)");
});

adb("legacy shell (adb shell -x): raw output, no exit code", async (ctx) => {
  const r = await ctx.h.adb(["-s", ctx.serial, "shell", "-x", "echo legacy; exit 9"]);
  assert.is(r.stdout, "legacy\n");
  assert.is(r.code, 0, "the legacy shell service carries no exit status");
});

adb("shell stdin reaches the command (cat)", async (ctx) => {
  const { execFile } = await import("node:child_process");
  const out = await new Promise<string>((resolve, reject) => {
    const child = execFile("/usr/bin/adb", ["-s", ctx.serial, "shell", "cat"], { env: ctx.h.env }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin!.end("piped through stdin\n");
  });
  assert.is(out, "piped through stdin\n");
});

adb("getprop lists every property as [key]: [value]; one key; setprop; boot completes", async (ctx) => {
  const all = (await sh(ctx, "getprop")).stdout.trimEnd().split("\n");
  assert.ok(all.length > 15);
  for (const line of all) assert.match(line, /^\[[^\]]+\]: \[.*\]$/);
  assert.ok(all.includes("[ro.product.model]: [Pixel HIL]"));
  assert.is((await sh(ctx, "getprop", "ro.build.version.sdk")).stdout, "33\n");
  assert.is((await sh(ctx, "getprop", "ro.product.cpu.abi")).stdout, "arm64-v8a\n");
  assert.is((await sh(ctx, "setprop", "debug.hil.flag", "on")).code, 0);
  assert.is((await sh(ctx, "getprop", "debug.hil.flag")).stdout, "on\n");
  const ro = await sh(ctx, "setprop", "ro.product.model", "x");
  assert.is(ro.code, 1);
  assert.match(ro.stderr, /Failed to set property 'ro.product.model'/);
  const deadline = Date.now() + 5000;
  while ((await sh(ctx, "getprop", "sys.boot_completed")).stdout !== "1\n") {
    assert.ok(Date.now() < deadline, "sys.boot_completed never became 1");
  }
});

adb("push then pull 4 MiB: same SHA-256; ls and stat see the file", async (ctx) => {
  const data = randomBytes(4 * 1024 * 1024 + 12345);
  const local = join(ctx.dir, "blob.bin");
  writeFileSync(local, data);
  const push = await ctx.h.adb(["-s", ctx.serial, "push", local, "/data/local/tmp/"]);
  assert.is(push.code, 0, push.stderr);
  assert.match(push.stdout, /1 file pushed/);
  const back = join(ctx.dir, "back.bin");
  const pull = await ctx.h.adb(["-s", ctx.serial, "pull", "/data/local/tmp/blob.bin", back]);
  assert.is(pull.code, 0, pull.stderr);
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  assert.is(sha(readFileSync(back)), sha(data));
  assert.match((await sh(ctx, "ls", "/data/local/tmp")).stdout, /^blob\.bin$/m);
  assert.match((await sh(ctx, "ls", "-l", "/data/local/tmp/blob.bin")).stdout, new RegExp(`^-rw-r--r-- .* ${data.length} `));
  const missing = await ctx.h.adb(["-s", ctx.serial, "pull", "/data/local/tmp/nope.bin", back]);
  assert.is(missing.code, 1);
  assert.match(missing.stdout + missing.stderr, /failed to stat remote object .*No such file or directory/);
  // A directory pull lists with LIS2 and receives each file.
  await sh(ctx, "mkdir", "-p", "/sdcard/hil/sub");
  await sh(ctx, "echo one > /sdcard/hil/a.txt; echo two > /sdcard/hil/sub/b.txt");
  const dirPull = await ctx.h.adb(["-s", ctx.serial, "pull", "/sdcard/hil", join(ctx.dir, "hil")]);
  assert.is(dirPull.code, 0, dirPull.stderr);
  assert.is(readFileSync(join(ctx.dir, "hil", "sub", "b.txt"), "utf8"), "two\n");
  assert.is((await sh(ctx, "rm", "-r", "/sdcard/hil")).code, 0);
  assert.is((await sh(ctx, "ls", "/sdcard/hil")).code, 1);
});

const apkSkip = apkToolMissing();

adb("install, list, path, grant, clear, uninstall a real APK (streamed and push + pm install)", async (ctx) => {
  if (apkSkip) return console.log(apkSkip);
  const apk = buildTestApk(ctx.dir, { packageName: "com.example.hil", versionCode: 7, versionName: "1.2.3", permissions: ["android.permission.CAMERA"], padBytes: 1_500_000 });
  const install = await ctx.h.adb(["-s", ctx.serial, "install", apk]);
  assert.is(install.code, 0, install.stderr);
  assert.match(install.stdout, /Success/);
  assert.match((await sh(ctx, "pm", "list", "packages", "-3")).stdout, /^package:com\.example\.hil$/m);
  assert.not.match((await sh(ctx, "pm", "list", "packages", "-3")).stdout, /package:android$/m);
  const withPath = (await sh(ctx, "pm", "list", "packages", "-f", "hil")).stdout;
  assert.match(withPath, /^package:\/data\/app\/.+\/base\.apk=com\.example\.hil$/m);
  const path = (await sh(ctx, "pm", "path", "com.example.hil")).stdout.trim().replace(/^package:/, "");
  assert.is((await sh(ctx, "ls", path)).code, 0, "the APK sits at the path pm reports");
  assert.is((await sh(ctx, "pm", "grant", "com.example.hil", "android.permission.CAMERA")).code, 0);
  const badGrant = await sh(ctx, "pm", "grant", "com.example.hil", "android.permission.RECORD_AUDIO");
  assert.is(badGrant.code, 255);
  assert.match(badGrant.stderr, /has not requested permission android.permission.RECORD_AUDIO/);
  assert.is((await sh(ctx, "pm", "clear", "com.example.hil")).stdout, "Success\n");
  const older = buildTestApk(join(ctx.dir), { packageName: "com.example.hil", versionCode: 3, versionName: "0.9" });
  const downgrade = await ctx.h.adb(["-s", ctx.serial, "install", older]);
  assert.is(downgrade.code, 1);
  assert.match(downgrade.stderr, /INSTALL_FAILED_VERSION_DOWNGRADE/);
  const uninstall = await ctx.h.adb(["-s", ctx.serial, "uninstall", "com.example.hil"]);
  assert.is(uninstall.stdout.trim(), "Success");
  assert.not.match((await sh(ctx, "pm", "list", "packages")).stdout, /com\.example\.hil/);
  // The other route: push, then pm install from the path.
  await ctx.h.adb(["-s", ctx.serial, "push", apk, "/data/local/tmp/app.apk"]);
  const pmInstall = await sh(ctx, "pm", "install", "-r", "/data/local/tmp/app.apk");
  assert.is(pmInstall.stdout, "Success\n");
  assert.match((await sh(ctx, "pm", "list", "packages", "-3")).stdout, /^package:com\.example\.hil$/m);
  const notApk = await sh(ctx, "pm", "install", "/data/local/tmp/blob.bin");
  assert.is(notApk.code, 1);
  assert.match(notApk.stdout, /^Failure \[INSTALL_PARSE_FAILED_NOT_APK/);
});

adb("adb install picks its route from the banner: exec:cmd package -S without abb_exec, push + pm without cmd", async (ctx) => {
  if (apkSkip) return console.log(apkSkip);
  const apk = buildTestApk(ctx.dir, { packageName: "com.example.routes", versionCode: 1, versionName: "1", padBytes: 600_000 });
  const routes: [string, string[]][] = [
    ["exec:cmd", DEFAULT_ADB_FEATURES.filter((f) => !f.startsWith("abb"))],
    ["push + pm install", DEFAULT_ADB_FEATURES.filter((f) => !f.startsWith("abb") && f !== "cmd")],
  ];
  for (const [route, features] of routes) {
    const dev = new VirtualAndroid({ id: `route-${features.length}`, bootDelayMs: 0, features });
    await dev.start();
    try {
      assert.match((await ctx.h.adb(["connect", dev.adbSerial])).stdout, /^connected to/);
      const r = await ctx.h.adb(["-s", dev.adbSerial, "install", apk]);
      assert.is(r.code, 0, `${route}: ${r.stderr}`);
      assert.match(r.stdout, /Success/, route);
      assert.ok(dev.state.packages.get("com.example.routes"), `${route}: installed`);
      assert.equal(dev.state.fs.list("/data/local/tmp"), [], `${route}: no temporary APK left`);
    } finally {
      await ctx.h.adb(["disconnect", dev.adbSerial]);
      await dev.stop();
    }
  }
});

adb("am instrument -r -w: scripted pass, fail with stack, ignored, assumption failure", async (ctx) => {
  if (apkSkip) return console.log(apkSkip);
  const apk = buildTestApk(ctx.dir, { packageName: "com.example.hil.test", versionCode: 1, versionName: "1", instrumentation: { runner: "androidx.test.runner.AndroidJUnitRunner", targetPackage: "com.example.hil" } });
  assert.is((await ctx.h.adb(["-s", ctx.serial, "install", apk])).code, 0);
  ctx.dev.state.instrumentation.set("com.example.hil.test", {
    tests: [
      { class: "com.example.hil.LoginTest", name: "opens", result: "pass" },
      { class: "com.example.hil.LoginTest", name: "rejectsBadPin", result: "fail", stack: "java.lang.AssertionError: expected:<1> but was:<2>\n\tat com.example.hil.LoginTest.rejectsBadPin(LoginTest.java:31)" },
      { class: "com.example.hil.SyncTest", name: "later", result: "ignored" },
      { class: "com.example.hil.SyncTest", name: "needsWifi", result: "assumption-failure" },
    ],
  });
  const r = await sh(ctx, "am", "instrument", "-r", "-w", "-e", "debug", "false", "com.example.hil.test/androidx.test.runner.AndroidJUnitRunner");
  assert.is(r.code, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /INSTRUMENTATION_STATUS: class=com\.example\.hil\.LoginTest\nINSTRUMENTATION_STATUS: current=1\nINSTRUMENTATION_STATUS: id=AndroidJUnitRunner\nINSTRUMENTATION_STATUS: numtests=4\nINSTRUMENTATION_STATUS: stream=\ncom\.example\.hil\.LoginTest:\nINSTRUMENTATION_STATUS: test=opens\nINSTRUMENTATION_STATUS_CODE: 1\n/);
  assert.match(out, /INSTRUMENTATION_STATUS: stack=java\.lang\.AssertionError: expected:<1> but was:<2>\n\tat com\.example\.hil\.LoginTest\.rejectsBadPin\(LoginTest\.java:31\)\n/);
  assert.equal(
    [...out.matchAll(/^INSTRUMENTATION_STATUS_CODE: (-?\d+)$/gm)].map((m) => Number(m[1])),
    [1, 0, 1, -2, 1, -3, 1, -4],
  );
  assert.match(out, /FAILURES!!!\nTests run: 4,  Failures: 1\n/);
  assert.match(out, /\nINSTRUMENTATION_CODE: -1\n$/);
  const only = await sh(ctx, "am", "instrument", "-r", "-w", "-e", "class", "com.example.hil.LoginTest#opens", "com.example.hil.test/androidx.test.runner.AndroidJUnitRunner");
  assert.match(only.stdout, /numtests=1\n/);
  assert.match(only.stdout, /OK \(1 test\)/);
});

adb("am instrument: a process crash and a missing instrumentation", async (ctx) => {
  if (apkSkip) return console.log(apkSkip);
  ctx.dev.state.instrumentation.set("com.example.hil.test", {
    tests: [
      { class: "com.example.hil.A", name: "first", result: "pass" },
      { class: "com.example.hil.A", name: "boom", result: "crash", stack: "java.lang.NullPointerException\n\tat com.example.hil.Main.onCreate(Main.java:12)" },
      { class: "com.example.hil.A", name: "never", result: "pass" },
    ],
  });
  const crash = await sh(ctx, "am", "instrument", "-r", "-w", "com.example.hil.test/androidx.test.runner.AndroidJUnitRunner");
  assert.match(crash.stdout, /INSTRUMENTATION_STATUS: test=boom\nINSTRUMENTATION_STATUS_CODE: 1\nINSTRUMENTATION_RESULT: shortMsg=Process crashed\.\nINSTRUMENTATION_CODE: 0\n$/);
  assert.not.match(crash.stdout, /test=never/);
  const crashLog = await ctx.h.adb(["-s", ctx.serial, "logcat", "-d", "-b", "crash"]);
  assert.match(crashLog.stdout, /E AndroidRuntime: FATAL EXCEPTION: main/);
  const missing = await sh(ctx, "am", "instrument", "-r", "-w", "com.nope.test/androidx.test.runner.AndroidJUnitRunner");
  assert.is(missing.code, 1);
  assert.match(missing.stdout, /^INSTRUMENTATION_STATUS: Error=Unable to find instrumentation info for: ComponentInfo\{com\.nope\.test\/androidx\.test\.runner\.AndroidJUnitRunner\}$/m);
  assert.match(missing.stderr, /INSTRUMENTATION_FAILED: com\.nope\.test\/androidx\.test\.runner\.AndroidJUnitRunner/);
});

adb("logcat -d in threadtime, -b, -c; am start and force-stop leave their lines", async (ctx) => {
  await sh(ctx, "am", "start", "-n", "com.android.settings/.Settings");
  await sh(ctx, "am", "force-stop", "com.android.settings");
  const r = await ctx.h.adb(["-s", ctx.serial, "logcat", "-d"]);
  assert.is(r.code, 0);
  const lines = r.stdout.split("\n").filter((l) => l.length > 0 && !l.startsWith("---------"));
  assert.ok(lines.length > 3);
  for (const l of lines) assert.match(l, /^\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+\d+\s+\d+ [VDIWEF] .*?: .*$/);
  assert.match(r.stdout, /ActivityTaskManager: START u0 \{flg=0x10000000 cmp=com\.android\.settings\/\.Settings\}/);
  assert.match(r.stdout, /^--------- beginning of system$/m);
  const mainOnly = await ctx.h.adb(["-s", ctx.serial, "logcat", "-d", "-b", "main"]);
  assert.not.match(mainOnly.stdout, /ActivityTaskManager/);
  const filtered = await ctx.h.adb(["-s", ctx.serial, "logcat", "-d", "-s", "ActivityManager:I"]);
  assert.ok(filtered.stdout.split("\n").filter((l) => /^\d/.test(l)).every((l) => / I ActivityManager: /.test(l)));
  assert.is((await ctx.h.adb(["-s", ctx.serial, "logcat", "-c", "-b", "all"])).code, 0);
  assert.is((await ctx.h.adb(["-s", ctx.serial, "logcat", "-d", "-b", "all"])).stdout, "");
  assert.is((await sh(ctx, "logcat", "-b", "nosuch")).code, 1);
});

adb("adb logcat follows new lines until the client goes away", async (ctx) => {
  const { spawn } = await import("node:child_process");
  const child = spawn("/usr/bin/adb", ["-s", ctx.serial, "logcat", "-v", "threadtime", "HilFollow:I", "*:S"], { env: ctx.h.env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
  try {
    const deadline = Date.now() + 10_000;
    let n = 0;
    while (!out.includes("tick")) {
      assert.ok(Date.now() < deadline, `no followed line; got ${JSON.stringify(out)}`);
      ctx.dev.state.log("HilFollow", `tick ${n++}`, 4);
      ctx.dev.state.log("HilNoise", "filtered out", 4);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(out, /^\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+1000\s+1000 I HilFollow: tick \d+$/m);
    assert.not.match(out, /HilNoise/);
  } finally {
    child.kill("SIGINT");
    await new Promise((r) => child.once("exit", r));
  }
});

adb("interactive shell (no command): prompt, commands, exit status; adb root and remount refused", async (ctx) => {
  const { execFile } = await import("node:child_process");
  const res = await new Promise<{ code: number; out: string }>((resolve) => {
    const child = execFile("/usr/bin/adb", ["-s", ctx.serial, "shell"], { env: ctx.h.env }, (err, stdout) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, out: stdout }));
    child.stdin!.end("getprop ro.product.device\nexit 4\n");
  });
  assert.is(res.code, 4);
  assert.match(res.out, /^oriole:\/ \$ getprop ro\.product\.device\r?\noriole\r?\n/);
  assert.is((await ctx.h.adb(["-s", ctx.serial, "root"])).stdout, "adbd cannot run as root in production builds\n");
  const remount = await ctx.h.adb(["-s", ctx.serial, "remount"]);
  assert.is(remount.code, 1);
  assert.match(remount.stderr, /Not running as root/);
});

adb("screencap -p is a valid PNG of the screen size; wm size; input", async (ctx) => {
  const r = await ctx.h.adb(["-s", ctx.serial, "exec-out", "screencap", "-p"]);
  const png = r.raw;
  assert.equal([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.is(png.toString("latin1", 12, 16), "IHDR");
  assert.is(png.readUInt32BE(16), 1080);
  assert.is(png.readUInt32BE(20), 2340);
  const idat = png.indexOf("IDAT");
  const len = png.readUInt32BE(idat - 4);
  assert.is(inflateSync(png.subarray(idat + 4, idat + 4 + len)).length, (1080 * 3 + 1) * 2340);
  assert.is((await sh(ctx, "wm", "size")).stdout, "Physical size: 1080x2340\n");
  assert.is((await sh(ctx, "input", "tap", "10", "20")).code, 0);
  assert.is((await sh(ctx, "input", "tap")).code, 1);
});

adb.run();
