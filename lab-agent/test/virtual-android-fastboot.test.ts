import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { VirtualAndroid } from "../src/virtual/android/index.js";
import { AdbHarness } from "./fixtures/adb-harness.js";

interface Ctx {
  h: AdbHarness;
  dev: VirtualAndroid;
  dir: string;
}

const fb = suite<Ctx>("real fastboot against a virtual Android bootloader");

fb.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "hil-vfastboot-"));
  ctx.dev = new VirtualAndroid({ id: "fb-test", bootDelayMs: 300, identity: { product: "hil_raven", serial: "HILFB0001" } });
  await ctx.dev.start();
  ctx.h = await AdbHarness.start();
  assert.is((await ctx.h.adb(["connect", ctx.dev.adbSerial])).code, 0);
});

fb.after(async (ctx) => {
  await ctx.h?.stop();
  await ctx.dev?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const fastboot = (ctx: Ctx, ...args: string[]) => ctx.h.fastboot(["-s", ctx.dev.fastbootSerial, ...args]);

fb("fastboot is refused while Android runs; adb reboot bootloader drops adb and brings fastboot up", async (ctx) => {
  // fastboot waits for a device forever; 3 s is enough to see it refused.
  const before = await ctx.h.fastboot(["-s", ctx.dev.fastbootSerial, "getvar", "product"], 3000);
  assert.match(before.stderr, /Failed to connect to 127\.0\.0\.1:\d+/, "no fastboot port while booted into Android");
  assert.is((await ctx.h.adb(["-s", ctx.dev.adbSerial, "reboot", "bootloader"])).code, 0);
  await waitUntil("bootloader mode", () => ctx.dev.mode === "bootloader");
  await ctx.h.waitForState(ctx.dev.adbSerial, "offline");
  const r = await fastboot(ctx, "getvar", "product");
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /^product: hil_raven$/m);
});

fb("getvar all prints every variable as (bootloader) INFO lines", async (ctx) => {
  const r = await fastboot(ctx, "getvar", "all");
  assert.is(r.code, 0, r.stderr);
  for (const line of ["version:0.4", "product:hil_raven", "serialno:HILFB0001", "max-download-size:0x20000000", "current-slot:a", "slot-count:2", "unlocked:yes", "has-slot:boot:yes", "has-slot:userdata:no", "is-logical:system_a:no"]) {
    assert.ok(r.stderr.includes(`(bootloader) ${line}\n`), `missing ${line}`);
  }
  const unknown = await fastboot(ctx, "getvar", "nosuch");
  assert.match(unknown.stderr, /getvar:nosuch\s+FAILED \(remote: 'GetVar Variable Not found'\)/);
});

fb("flash a 64 MiB image to the current slot; the device holds the same bytes", async (ctx) => {
  const image = randomBytes(64 * 1024 * 1024);
  const path = join(ctx.dir, "boot.img");
  writeFileSync(path, image);
  const r = await fastboot(ctx, "flash", "boot", path);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stderr, /Sending 'boot_a' \(65536 KB\)\s+OKAY/);
  assert.match(r.stderr, /Writing 'boot_a'\s+\(bootloader\) writing boot_a\nOKAY/);
  const stored = ctx.dev.fastboot.images.get("boot_a");
  assert.ok(stored);
  assert.is(stored.sha256, createHash("sha256").update(image).digest("hex"));
  const tooBig = await fastboot(ctx, "flash", "vbmeta", path);
  assert.ok(tooBig.code !== 0);
  assert.match(tooBig.stderr, /FAILED \(remote: 'size too large for partition vbmeta_a'\)/);
});

fb("a transfer cut mid-download fails the flash and writes nothing", async (ctx) => {
  const path = join(ctx.dir, "dtbo.img");
  writeFileSync(path, randomBytes(4 * 1024 * 1024));
  ctx.dev.faults.disconnectAfterBytes = 1024 * 1024;
  const r = await fastboot(ctx, "flash", "dtbo", path);
  assert.ok(r.code !== 0, `fastboot must fail: ${r.stderr}`);
  assert.not.ok(ctx.dev.fastboot.images.has("dtbo_a"));
  assert.is((await fastboot(ctx, "getvar", "product")).code, 0, "the bootloader answers the next connection");
});

fb("set_active b, erase, oem answered unsupported", async (ctx) => {
  const r = await fastboot(ctx, "set_active", "b");
  assert.is(r.code, 0, r.stderr);
  assert.match((await fastboot(ctx, "getvar", "current-slot")).stderr, /^current-slot: b$/m);
  assert.is((await fastboot(ctx, "erase", "misc")).code, 0);
  const oem = await fastboot(ctx, "oem", "device-info");
  assert.is(oem.code, 1);
  assert.match(oem.stderr, /FAILED \(remote: 'oem commands are not supported'\)/);
});

fb("fastboot reboot: fastboot goes away, adb returns on slot b and boot completes", async (ctx) => {
  assert.is((await fastboot(ctx, "reboot")).code, 0);
  await waitUntil("Android booted", () => ctx.dev.mode === "device");
  const gone = await ctx.h.fastboot(["-s", ctx.dev.fastbootSerial, "getvar", "product"], 3000);
  assert.match(gone.stderr, /Failed to connect/, "fastboot port closed again");
  // The adb server retries a dropped TCP transport on its own back-off schedule and gives up
  // after a while; a driver reconnects explicitly, as here.
  await ctx.h.adb(["disconnect", ctx.dev.adbSerial]);
  assert.is((await ctx.h.adb(["connect", ctx.dev.adbSerial])).stdout.trim(), `connected to ${ctx.dev.adbSerial}`);
  await ctx.h.waitForState(ctx.dev.adbSerial, "device");
  const shell = (cmd: string) => ctx.h.adb(["-s", ctx.dev.adbSerial, "shell", cmd]);
  assert.is((await shell("getprop sys.boot_completed")).stdout, "1\n");
  assert.is((await shell("getprop ro.boot.slot_suffix")).stdout, "_b\n");
});

fb.run();
