// The android.ab-update step through runSuite on a virtual Android, with Debian's real adb and
// fastboot: the inactive slot updated and booted, the fallback when the update cannot boot, and each
// surprise (an unexpected fallback, an expected one that did not happen) failing the step by name.
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { SuiteSchema, type SuiteInput } from "@hil/contracts";
import { capabilitiesOf } from "@hil/device-profiles";
import { AdbClient } from "../src/drivers/android/adb-client.js";
import { AndroidTarget } from "../src/runner/android-target.js";
import { runSuite } from "../src/runner/run-suite.js";
import { executeAndroidControl, UNBOOTABLE_MARKER, VirtualAndroid } from "../src/virtual/android/index.js";
import { AdbHarness } from "./fixtures/adb-harness.js";

interface Ctx {
  h: AdbHarness;
  dev: VirtualAndroid;
  target: AndroidTarget;
  dir: string;
  artifacts: Record<string, string>;
}

const it = suite<Ctx>("android.ab-update on a virtual Android");

it.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "hil-runner-ab-"));
  ctx.dev = new VirtualAndroid({ id: "runner-ab", bootDelayMs: 300 });
  await ctx.dev.start();
  ctx.h = await AdbHarness.start();
  const adb = new AdbClient({ serial: ctx.dev.adbSerial, serverPort: ctx.h.port, env: ctx.h.env, fastbootSerial: ctx.dev.fastbootSerial });
  ctx.target = await AndroidTarget.open({ boardId: "android-ab", capabilities: capabilitiesOf("android"), adb, bootDeadline: Date.now() + 15_000 });
  const file = (name: string, data: Buffer) => {
    const path = join(ctx.dir, name);
    writeFileSync(path, data);
    return path;
  };
  ctx.artifacts = {
    boot: file("boot.img", randomBytes(512 * 1024)),
    system: file("system.img", randomBytes(2 * 1024 * 1024)),
    "bad-boot": file("bad-boot.img", Buffer.concat([Buffer.from(UNBOOTABLE_MARKER), randomBytes(512 * 1024)])),
  };
});

it.after(async (ctx) => {
  await ctx.target?.close();
  await ctx.h?.stop();
  await ctx.dev?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

function abSuite(steps: SuiteInput["steps"]) {
  return SuiteSchema.parse({
    name: "android-ab-runner-test",
    roles: { dut: { profile: "android-virtual" } },
    artifacts: { boot: { kind: "android-image" }, system: { kind: "android-image" }, "bad-boot": { kind: "android-image" } },
    timeout: 180_000,
    steps,
  });
}

const run = (ctx: Ctx, steps: SuiteInput["steps"]) => runSuite({ suite: abSuite(steps), targets: { dut: ctx.target }, artifacts: ctx.artifacts, runId: "run-ab" });
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const summary = (r: Awaited<ReturnType<typeof run>>) => JSON.stringify(r.steps.map((s) => [s.type, s.outcome, s.message, s.errorCode]));

it("updates the inactive slot: boot and system land on slot b, the device boots b and marks it successful", async (ctx) => {
  const r = await run(ctx, [
    { type: "android.ab-update", images: [{ partition: "boot", artifact: "boot" }, { partition: "system", artifact: "system" }] },
    { type: "android.shell", command: "getprop ro.boot.slot_suffix | grep -q _b" },
  ]);
  assert.is(r.outcome, "pass", summary(r));
  const step = r.steps[0]!;
  assert.is(step.name, "android.ab-update boot, system");
  assert.match(step.message!, /^flashed boot, system to slot b; booted slot b and marked it successful$/);
  assert.equal(
    { before: step.details?.["slot.before"], target: step.details?.["slot.target"], after: step.details?.["slot.after"], armed: step.details?.["armed.retryCount"], ok: step.details?.["after.b.successful"], current: step.details?.["after.current"] },
    { before: "a", target: "b", after: "b", armed: 7, ok: true, current: "b" },
  );
  assert.is(ctx.dev.fastboot.images.get("boot_b")?.sha256, sha(ctx.artifacts.boot!));
  assert.is(ctx.dev.fastboot.images.get("system_b")?.sha256, sha(ctx.artifacts.system!));
  assert.not.ok(ctx.dev.fastboot.images.has("boot_a"), "the running slot was not touched");
  assert.is(ctx.dev.mode, "device", "left booted into Android");
});

it("expect: fallback with an image that cannot boot: the new slot is given up and the old one runs again", async (ctx) => {
  const r = await run(ctx, [{ type: "android.ab-update", images: [{ partition: "boot", artifact: "bad-boot" }], expect: "fallback" }]);
  assert.is(r.outcome, "pass", summary(r));
  const step = r.steps[0]!;
  assert.match(step.message!, /slot a; it could not boot, the bootloader marked it unbootable and fell back to slot b$/);
  assert.is(step.details?.["slot.before"], "b");
  assert.is(step.details?.["slot.after"], "b");
  assert.is(step.details?.["after.a.unbootable"], true);
  assert.is(step.details?.["after.a.retryCount"], 0);
  assert.is(step.details?.["after.current"], "b");
});

it("an unexpected fallback fails the step, naming the slot it came back on", async (ctx) => {
  const r = await run(ctx, [
    { type: "android.ab-update", name: "update to the new build", images: [{ partition: "boot", artifact: "bad-boot" }] },
    { type: "android.shell", command: "true" },
  ]);
  assert.is(r.outcome, "fail", summary(r));
  assert.is(r.error, undefined, "a device that would not boot the update is a test failure, not the lab's");
  const step = r.steps[0]!;
  assert.is(step.outcome, "fail");
  assert.match(step.message!, /^expected the device to boot the updated slot a; it came back on slot b \(slot a: successful no, unbootable yes, retry count 0\)$/);
  assert.is(r.steps[1]!.outcome, "skip");
  assert.is(ctx.dev.mode, "device");
});

it("an expected fallback that does not happen fails the step", async (ctx) => {
  const r = await run(ctx, [{ type: "android.ab-update", images: [{ partition: "boot", artifact: "boot" }], expect: "fallback" }]);
  assert.is(r.outcome, "fail", summary(r));
  assert.match(r.steps[0]!.message!, /^expected a fallback to slot b; the device booted the updated slot a/);
});

it("a missing artifact ends the step before the board is touched", async (ctx) => {
  const slot = ctx.dev.fastboot.currentSlot;
  const r = await runSuite({ suite: abSuite([{ type: "android.ab-update", images: [{ partition: "boot", artifact: "system" }] }]), targets: { dut: ctx.target }, artifacts: { boot: ctx.artifacts.boot! }, runId: "run-ab-missing" });
  assert.is(r.steps[0]!.errorCode, "ARTIFACT_MISSING", summary(r));
  assert.match(r.steps[0]!.message!, /--artifact system=FILE/);
  assert.is(ctx.dev.fastboot.currentSlot, slot);
  assert.is(ctx.dev.mode, "device");
});

it("no slot left to boot: the step fails saying the device stayed in its bootloader, without waiting out its timeout", async (ctx) => {
  const running = ctx.dev.fastboot.currentSlot;
  assert.is(await executeAndroidControl(ctx.dev, `slot-fail ${running}`), `ok slot-fail ${running}`);
  const started = Date.now();
  const r = await run(ctx, [{ type: "android.ab-update", images: [{ partition: "boot", artifact: "bad-boot" }], expect: "fallback", timeout: 170_000 }]);
  assert.is(r.outcome, "fail", summary(r));
  assert.match(r.steps[0]!.message!, /^no slot booted after the update: the device stayed in its bootloader \(slot [ab]: successful no, unbootable yes, retry count 0; slot [ab]: successful no, unbootable yes/);
  assert.ok(Date.now() - started < 120_000, "seen by the bootloader answering, not by the step's timeout");
  assert.is(ctx.dev.mode, "bootloader");
  // Back to a bootable board for whatever runs next.
  assert.is(await executeAndroidControl(ctx.dev, "slot-fail off"), "ok slot-fail off");
  ctx.dev.fastboot.handle(`set_active:${running}`);
  assert.is(await executeAndroidControl(ctx.dev, "reboot"), "ok booting");
  await ctx.target.adb.waitForBoot(Date.now() + 30_000);
});

it("the schema refuses a slot-suffixed partition and an unknown expectation, naming the field", () => {
  const suffixed = SuiteSchema.safeParse({ name: "x", roles: { dut: { profile: "android-virtual" } }, steps: [{ type: "android.ab-update", images: [{ partition: "boot_b", artifact: "boot" }] }] });
  assert.not.ok(suffixed.success);
  assert.equal(suffixed.error?.issues[0]?.path, ["steps", 0, "images", 0, "partition"]);
  assert.match(suffixed.error?.issues[0]?.message ?? "", /without its slot suffix/);
  const expect = SuiteSchema.safeParse({ name: "x", roles: { dut: { profile: "android-virtual" } }, steps: [{ type: "android.ab-update", images: [{ partition: "boot", artifact: "boot" }], expect: "rollback" }] });
  assert.not.ok(expect.success);
  assert.equal(expect.error?.issues[0]?.path, ["steps", 0, "expect"]);
});

it.run();
