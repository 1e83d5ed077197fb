// A/B slots on the virtual Android through Debian's real fastboot and adb: the slot variables a real
// A/B bootloader answers, set_active resetting a slot, slot-suffixed flashing, the OS marking a slot
// successful once it booted, and the fallback to the old slot when the new one cannot boot.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { executeAndroidControl, UNBOOTABLE_MARKER, VirtualAndroid } from "../src/virtual/android/index.js";
import { AdbHarness } from "./fixtures/adb-harness.js";

interface Ctx {
  h: AdbHarness;
  dev: VirtualAndroid;
  dir: string;
  good: string;
  bad: string;
}

const ab = suite<Ctx>("A/B slots on a virtual Android, through the real fastboot");

ab.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "hil-vab-"));
  ctx.good = join(ctx.dir, "boot-good.img");
  writeFileSync(ctx.good, randomBytes(256 * 1024));
  ctx.bad = join(ctx.dir, "boot-bad.img");
  writeFileSync(ctx.bad, Buffer.concat([Buffer.from(`ANDROID!${UNBOOTABLE_MARKER}`), randomBytes(256 * 1024)]));
  ctx.dev = new VirtualAndroid({ id: "ab-test", bootDelayMs: 300, identity: { product: "hil_ab", serial: "HILAB0001" } });
  await ctx.dev.start();
  ctx.h = await AdbHarness.start();
  assert.is((await ctx.h.adb(["connect", ctx.dev.adbSerial])).code, 0);
});

ab.after(async (ctx) => {
  await ctx.h?.stop();
  await ctx.dev?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const fastboot = (ctx: Ctx, ...args: string[]) => ctx.h.fastboot(["-s", ctx.dev.fastbootSerial, ...args]);

/** One variable as the real client prints it (`current-slot: a`). */
async function getvar(ctx: Ctx, name: string): Promise<string> {
  const r = await fastboot(ctx, "getvar", name);
  assert.is(r.code, 0, r.stderr);
  const m = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: (.*)$`, "m").exec(r.stderr);
  assert.ok(m, `getvar ${name}: ${r.stderr}`);
  return m[1]!;
}

const shell = async (ctx: Ctx, cmd: string) => (await ctx.h.adb(["-s", ctx.dev.adbSerial, "shell", cmd])).stdout.trim();

async function toBootloader(ctx: Ctx): Promise<void> {
  assert.is((await ctx.h.adb(["-s", ctx.dev.adbSerial, "reboot", "bootloader"])).code, 0);
  await waitUntil("bootloader mode", () => ctx.dev.mode === "bootloader", 15_000);
}

/** `fastboot reboot`, then reattach adb the way a driver does after a reboot, until boot completes. */
async function toAndroid(ctx: Ctx): Promise<void> {
  assert.is((await fastboot(ctx, "reboot")).code, 0);
  await waitUntil("Android booted", () => ctx.dev.mode === "device", 15_000);
  await ctx.h.adb(["disconnect", ctx.dev.adbSerial]);
  await ctx.h.adb(["connect", ctx.dev.adbSerial]);
  await ctx.h.waitForState(ctx.dev.adbSerial, "device");
  assert.is(await shell(ctx, "getprop sys.boot_completed"), "1");
}

ab("a fresh device: slot a current and successful, slot b bootable with 7 tries; has-slot per partition", async (ctx) => {
  assert.is(await shell(ctx, "getprop ro.boot.slot_suffix"), "_a");
  await toBootloader(ctx);
  assert.is(await getvar(ctx, "current-slot"), "a");
  assert.is(await getvar(ctx, "slot-count"), "2");
  assert.is(await getvar(ctx, "slot-successful:a"), "yes");
  assert.is(await getvar(ctx, "slot-unbootable:a"), "no");
  assert.is(await getvar(ctx, "slot-successful:b"), "no");
  assert.is(await getvar(ctx, "slot-unbootable:b"), "no");
  assert.is(await getvar(ctx, "slot-retry-count:b"), "7");
  assert.is(await getvar(ctx, "has-slot:boot"), "yes");
  assert.is(await getvar(ctx, "has-slot:userdata"), "no");
});

ab("flash without a suffix writes the current slot; boot_b and --slot b write slot b", async (ctx) => {
  const plain = await fastboot(ctx, "flash", "boot", ctx.good);
  assert.is(plain.code, 0, plain.stderr);
  assert.match(plain.stderr, /Sending 'boot_a'/);
  const suffixed = await fastboot(ctx, "flash", "boot_b", ctx.good);
  assert.is(suffixed.code, 0, suffixed.stderr);
  assert.match(suffixed.stderr, /Sending 'boot_b'/);
  const slotFlag = await fastboot(ctx, "--slot", "b", "flash", "system", ctx.good);
  assert.is(slotFlag.code, 0, slotFlag.stderr);
  assert.match(slotFlag.stderr, /Sending 'system_b'/);
  assert.ok(ctx.dev.fastboot.images.has("boot_a") && ctx.dev.fastboot.images.has("boot_b") && ctx.dev.fastboot.images.has("system_b"));
  assert.not.ok(ctx.dev.fastboot.images.has("system_a"));
});

ab("--set-active=b makes b current with fresh tries; the boot comes up on _b and marks b successful", async (ctx) => {
  const r = await fastboot(ctx, "--set-active=b");
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /Setting current slot to 'b'/);
  assert.is(await getvar(ctx, "current-slot"), "b");
  assert.is(await getvar(ctx, "slot-successful:b"), "no");
  assert.is(await getvar(ctx, "slot-retry-count:b"), "7");
  await toAndroid(ctx);
  assert.is(await shell(ctx, "getprop ro.boot.slot_suffix"), "_b");
  assert.match(await shell(ctx, "logcat -d -s update_verifier"), /Marked slot b as booted successfully\./);
  await toBootloader(ctx);
  assert.is(await getvar(ctx, "current-slot"), "b");
  assert.is(await getvar(ctx, "slot-successful:b"), "yes");
  assert.is(await getvar(ctx, "slot-retry-count:b"), "0", "a proven slot spends no tries");
});

ab("an unbootable image on the new slot: its tries run out, it is marked unbootable and the old slot boots", async (ctx) => {
  assert.is((await fastboot(ctx, "flash", "boot_a", ctx.bad)).code, 0);
  assert.is((await fastboot(ctx, "set_active", "a")).code, 0);
  assert.is(await getvar(ctx, "current-slot"), "a");
  await toAndroid(ctx);
  assert.is(await shell(ctx, "getprop ro.boot.slot_suffix"), "_b", "fell back to the slot that worked");
  const bootLog = await shell(ctx, "logcat -d -s bootloader");
  assert.is((bootLog.match(/slot a failed to boot/g) ?? []).length, 7, bootLog);
  assert.match(bootLog, /slot a marked unbootable/);
  await toBootloader(ctx);
  assert.is(await getvar(ctx, "current-slot"), "b");
  assert.is(await getvar(ctx, "slot-unbootable:a"), "yes");
  assert.is(await getvar(ctx, "slot-successful:a"), "no");
  assert.is(await getvar(ctx, "slot-retry-count:a"), "0");
  assert.is(await getvar(ctx, "slot-successful:b"), "yes", "the old slot is untouched");
});

ab("set_active on an unbootable slot makes it bootable again; a good image there then boots", async (ctx) => {
  assert.is((await fastboot(ctx, "set_active", "a")).code, 0);
  assert.is(await getvar(ctx, "slot-unbootable:a"), "no");
  assert.is(await getvar(ctx, "slot-retry-count:a"), "7");
  assert.is((await fastboot(ctx, "flash", "boot", ctx.good)).code, 0, "no suffix: the current slot, a");
  await toAndroid(ctx);
  assert.is(await shell(ctx, "getprop ro.boot.slot_suffix"), "_a");
});

ab("slot-fail on both slots: no slot is left and the device stays in its bootloader; off brings it back", async (ctx) => {
  assert.is(await executeAndroidControl(ctx.dev, "slot-fail a"), "ok slot-fail a");
  assert.is(await executeAndroidControl(ctx.dev, "slot-fail b"), "ok slot-fail b");
  assert.match(await executeAndroidControl(ctx.dev, "slot-fail c"), /^error usage: slot-fail a\|b\|off$/);
  assert.is(await executeAndroidControl(ctx.dev, "reboot"), "ok bootloader");
  assert.is(await getvar(ctx, "slot-unbootable:a"), "yes");
  assert.is(await getvar(ctx, "slot-unbootable:b"), "yes");
  assert.is(await executeAndroidControl(ctx.dev, "slot-fail off"), "ok slot-fail off");
  assert.is((await fastboot(ctx, "--set-active=b")).code, 0);
  await toAndroid(ctx);
  assert.is(await shell(ctx, "getprop ro.boot.slot_suffix"), "_b");
});

ab("a slot that does not exist is refused", async (ctx) => {
  await toBootloader(ctx);
  const r = await fastboot(ctx, "set_active", "c");
  assert.ok(r.code !== 0, r.stderr);
  assert.match(r.stderr, /Slot c does not exist|invalid slot/);
  assert.is(await getvar(ctx, "current-slot"), "b");
  await toAndroid(ctx);
});

ab.run();
