// runSuite against an AndroidTarget on a virtual Android, through Debian's real adb and fastboot:
// per-test results, a failing test named, and infrastructure kept apart from test failures.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { ERROR_CODES, SuiteSchema, type LabErrorCode, type SuiteInput } from "@hil/contracts";
import { capabilitiesOf } from "@hil/device-profiles";
import { AdbClient } from "../src/drivers/android/adb-client.js";
import { AndroidTarget } from "../src/runner/android-target.js";
import { runSuite } from "../src/runner/run-suite.js";
import { executeAndroidControl, VirtualAndroid } from "../src/virtual/android/index.js";
import { AdbHarness } from "./fixtures/adb-harness.js";
import { apkToolMissing, buildTestApk } from "./fixtures/test-apk.js";

interface Ctx {
  h: AdbHarness;
  dev: VirtualAndroid;
  target: AndroidTarget;
  dir: string;
  artifacts: Record<string, string>;
}

const RUNNER = "com.hil.app.test/androidx.test.runner.AndroidJUnitRunner";
const it = suite<Ctx>("runSuite on a virtual Android");
const skip = apkToolMissing();

it.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "hil-runner-android-"));
  ctx.dev = new VirtualAndroid({ id: "runner-android", bootDelayMs: 300 });
  await ctx.dev.start();
  ctx.h = await AdbHarness.start();
  const adb = new AdbClient({ serial: ctx.dev.adbSerial, serverPort: ctx.h.port, env: ctx.h.env, fastbootSerial: ctx.dev.fastbootSerial });
  ctx.target = await AndroidTarget.open({ boardId: "android-0", capabilities: capabilitiesOf("android"), adb, bootDeadline: Date.now() + 15_000 });
  const blob = join(ctx.dir, "config.bin");
  writeFileSync(blob, randomBytes(200_000));
  const boot = join(ctx.dir, "boot.img");
  writeFileSync(boot, randomBytes(1024 * 1024));
  ctx.artifacts = { config: blob, boot };
  if (!skip) {
    ctx.artifacts.app = buildTestApk(join(ctx.dir, "app"), { packageName: "com.hil.app", versionCode: 1, versionName: "1.0", padBytes: 6 * 1024 * 1024 });
    ctx.artifacts.tests = buildTestApk(join(ctx.dir, "tests"), { packageName: "com.hil.app.test", versionCode: 1, versionName: "1.0", instrumentation: { runner: "androidx.test.runner.AndroidJUnitRunner", targetPackage: "com.hil.app" } });
  }
});

it.after(async (ctx) => {
  await ctx.target?.close();
  await ctx.h?.stop();
  await ctx.dev?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

function androidSuite(steps: SuiteInput["steps"], timeout = 120_000) {
  return SuiteSchema.parse({
    name: "android-runner-test",
    roles: { phone: { profile: "android-virtual" } },
    artifacts: { app: { kind: "apk" }, tests: { kind: "apk" }, config: { kind: "file" }, boot: { kind: "android-image" } },
    timeout,
    steps,
  });
}

const installBoth: SuiteInput["steps"] = [
  { type: "android.install", role: "phone", artifact: "app" },
  { type: "android.install", role: "phone", artifact: "tests" },
];

/** Sets the scripted results over the board's control interface (what `android-N.ctl` runs). */
async function script(ctx: Ctx, tests: unknown[]): Promise<void> {
  assert.is(await executeAndroidControl(ctx.dev, `instrumentation com.hil.app.test ${JSON.stringify({ tests })}`), "ok instrumentation com.hil.app.test");
}

const run = (ctx: Ctx, steps: SuiteInput["steps"], timeout?: number) => runSuite({ suite: androidSuite(steps, timeout), targets: { phone: ctx.target }, artifacts: ctx.artifacts, runId: "run-a" });

it("install, push, shell and instrument: per-test results, and logcat in the run's log", async (ctx) => {
  if (skip) return console.log(skip);
  await script(ctx, [
    { class: "com.hil.LoginTest", name: "opens", log: ["login screen shown"] },
    { class: "com.hil.LoginTest", name: "later", result: "ignored" },
    { class: "com.hil.SyncTest", name: "uploads" },
  ]);
  const r = await run(ctx, [
    ...installBoth,
    { type: "android.push", role: "phone", artifact: "config", path: "/data/local/tmp/config.bin" },
    { type: "android.shell", role: "phone", command: "ls /data/local/tmp/config.bin && pm list packages com.hil.app" },
    { type: "android.instrument", role: "phone", runner: RUNNER, args: { class: "com.hil.LoginTest,com.hil.SyncTest" } },
  ]);
  assert.is(r.outcome, "pass", JSON.stringify(r.steps.map((s) => [s.type, s.outcome, s.message])));
  assert.equal(r.cases.map((c) => `${c.group}#${c.name}=${c.outcome}`), ["com.hil.LoginTest#opens=pass", "com.hil.LoginTest#later=skip", "com.hil.SyncTest#uploads=pass"]);
  assert.match(r.steps[4]!.message!, /^3 tests: 2 passed, 0 failed, 0 errors, 1 skipped$/);
  const logcat = r.log.filter((l) => l.stream === "logcat");
  assert.ok(logcat.some((l) => /LoginTest: login screen shown$/.test(l.text)), `the test's log line reached the run log:\n${logcat.map((l) => l.text).join("\n")}`);
  assert.ok(logcat.every((l) => l.board === "android-0" && l.run === "run-a"));
});

it("a scripted failing test fails the suite, named, with its stack; the other tests still count", async (ctx) => {
  if (skip) return console.log(skip);
  await script(ctx, [
    { class: "com.hil.LoginTest", name: "opens" },
    { class: "com.hil.LoginTest", name: "badPin", result: "fail", stack: "java.lang.AssertionError: pin 0000 accepted\n\tat com.hil.LoginTest.badPin(LoginTest.java:31)" },
    { class: "com.hil.SyncTest", name: "uploads" },
  ]);
  const r = await run(ctx, [...installBoth, { type: "android.instrument", role: "phone", runner: RUNNER }, { type: "android.shell", role: "phone", command: "true" }]);
  assert.is(r.outcome, "fail");
  assert.is(r.error, undefined, "a test failure is not an infrastructure error");
  const step = r.steps[2]!;
  assert.is(step.outcome, "fail");
  assert.match(step.message!, /failed: com\.hil\.LoginTest#badPin$/);
  assert.equal(r.cases.map((c) => c.outcome), ["pass", "fail", "pass"]);
  assert.match(r.cases[1]!.message!, /pin 0000 accepted/);
  assert.is(r.steps[3]!.outcome, "skip");
});

it("a crash of the app under test is an error of the running test; the suite fails", async (ctx) => {
  if (skip) return console.log(skip);
  await script(ctx, [{ class: "com.hil.LoginTest", name: "opens" }, { class: "com.hil.LoginTest", name: "explodes", result: "crash" }, { class: "com.hil.LoginTest", name: "never" }]);
  const r = await run(ctx, [...installBoth, { type: "android.instrument", role: "phone", runner: RUNNER }]);
  assert.is(r.outcome, "fail");
  assert.equal(r.cases.map((c) => `${c.name}=${c.outcome}`), ["opens=pass", "explodes=error"]);
  assert.match(r.steps[2]!.message!, /crashed \(Process crashed\.\) in com\.hil\.LoginTest#explodes/);
});

it("a missing runner and a wrong exit status are test failures that say why", async (ctx) => {
  if (skip) return console.log(skip);
  const missing = await run(ctx, [{ type: "android.instrument", role: "phone", runner: "com.nope.test/androidx.test.runner.AndroidJUnitRunner" }]);
  assert.is(missing.outcome, "fail");
  assert.match(missing.steps[0]!.message!, /instrumentation com\.nope\.test\/androidx\.test\.runner\.AndroidJUnitRunner could not run: Unable to find instrumentation info/);
  const exit = await run(ctx, [{ type: "android.shell", role: "phone", command: "echo nope >&2; exit 3", expectExit: 0 }]);
  assert.is(exit.outcome, "fail");
  assert.match(exit.steps[0]!.message!, /exited 3, expected 0:\nnope/);
  const refused = await executeAndroidControl(ctx.dev, "install-fail INSTALL_FAILED_VERSION_DOWNGRADE");
  assert.match(refused, /^ok/);
  const downgrade = await run(ctx, [{ type: "android.install", role: "phone", artifact: "tests" }]);
  assert.is(downgrade.outcome, "fail");
  assert.match(downgrade.steps[0]!.message!, /INSTALL_FAILED_VERSION_DOWNGRADE/);
});

const isInfra = (code: string | undefined): boolean => code !== undefined && ERROR_CODES[code as LabErrorCode]?.infra === true;

it("the device cut off mid-install: outcome error with an infrastructure code", async (ctx) => {
  if (skip) return console.log(skip);
  assert.match(await executeAndroidControl(ctx.dev, "disconnect-after 1048576"), /^ok/);
  const r = await run(ctx, [{ type: "android.install", role: "phone", artifact: "app" }, { type: "android.shell", role: "phone", command: "true" }]);
  assert.is(r.outcome, "error", JSON.stringify(r.steps[0]));
  assert.ok(isInfra(r.error?.code), `infra code expected, got ${r.error?.code}: ${r.error?.message}`);
  assert.is(r.steps[1]!.outcome, "skip");
  await ctx.target.adb.waitForBoot(Date.now() + 15_000);
});

it("the device unplugged mid-install: outcome error with an infrastructure code", async (ctx) => {
  if (skip) return console.log(skip);
  // Cut the install after 1 MiB and pull the cable in the same moment, so adb finds no device to go back to.
  assert.match(await executeAndroidControl(ctx.dev, "disconnect-after 1048576"), /^ok/);
  const pending = run(ctx, [{ type: "android.install", role: "phone", artifact: "app" }]);
  const unplugWhenCut = (async () => {
    const deadline = Date.now() + 10_000;
    while (ctx.dev.faults.disconnectAfterBytes !== null && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    await executeAndroidControl(ctx.dev, "unplug");
  })();
  const r = await pending;
  await unplugWhenCut;
  assert.is(r.outcome, "error");
  assert.ok(isInfra(r.error?.code), `infra code expected, got ${r.error?.code}: ${r.error?.message}`);
  assert.is(ctx.dev.mode, "unplugged");
  assert.match(await executeAndroidControl(ctx.dev, "replug"), /^ok/);
  await ctx.target.adb.waitForBoot(Date.now() + 15_000);
});

it("the device unplugged while tests run: error with an infra code, the finished tests kept", async (ctx) => {
  if (skip) return console.log(skip);
  await script(ctx, [{ class: "com.hil.LoginTest", name: "opens", durationMs: 10 }, { class: "com.hil.LoginTest", name: "slow", durationMs: 8000 }]);
  const pending = run(ctx, [...installBoth, { type: "android.instrument", role: "phone", runner: RUNNER }]);
  const unplug = (async () => {
    const deadline = Date.now() + 30_000;
    while (!ctx.target.console.lines().some((l) => /started: slow\(com\.hil\.LoginTest\)/.test(l.text)) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    await executeAndroidControl(ctx.dev, "unplug");
  })();
  const r = await pending;
  await unplug;
  assert.is(r.outcome, "error", JSON.stringify(r.steps.map((s) => [s.outcome, s.message])));
  assert.ok(isInfra(r.error?.code), `infra code expected, got ${r.error?.code}: ${r.error?.message}`);
  assert.equal(r.cases.map((c) => `${c.name}=${c.outcome}`), ["opens=pass", "slow=error"]);
  assert.match(await executeAndroidControl(ctx.dev, "replug"), /^ok/);
  await ctx.target.adb.waitForBoot(Date.now() + 15_000);
});

it("fastboot.flash: into the bootloader, flash, back to Android; the board's log goes on after the reboot", async (ctx) => {
  const steps: SuiteInput["steps"] = [{ type: "fastboot.flash", role: "phone", partition: "boot", artifact: "boot" }, { type: "android.shell", role: "phone", command: "getprop sys.boot_completed | grep 1" }];
  if (!skip) {
    await script(ctx, [{ class: "com.hil.AfterFlashTest", name: "boots", log: ["running on the new image"] }]);
    steps.push(...installBoth, { type: "android.instrument", role: "phone", runner: RUNNER });
  }
  const r = await run(ctx, steps);
  assert.is(r.outcome, "pass", JSON.stringify(r.steps.map((s) => [s.outcome, s.message])));
  assert.is(ctx.dev.mode, "device");
  const flashed = ctx.dev.fastboot.images.get("boot_a") ?? ctx.dev.fastboot.images.get("boot_b");
  assert.is(flashed?.sha256, createHash("sha256").update(readFileSync(ctx.artifacts.boot!)).digest("hex"), "the artifact's bytes are on the current slot's boot partition");
  if (!skip) assert.ok(r.log.some((l) => l.stream === "logcat" && /AfterFlashTest: running on the new image$/.test(l.text)), "logcat was followed again after the reboot");
});

it.run();
