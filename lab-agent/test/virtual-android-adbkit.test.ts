import adbkit from "@devicefarmer/adbkit";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { VirtualAndroid } from "../src/virtual/android/index.js";
import { AdbHarness } from "./fixtures/adb-harness.js";
import { apkToolMissing, buildTestApk } from "./fixtures/test-apk.js";

const { Adb } = adbkit;

interface Ctx {
  h: AdbHarness;
  dev: VirtualAndroid;
  dir: string;
  client: ReturnType<typeof Adb.createClient>;
}

const kit = suite<Ctx>("@devicefarmer/adbkit through the adb server to a virtual Android");

kit.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), "hil-vandroid-kit-"));
  ctx.dev = new VirtualAndroid({ id: "kit", bootDelayMs: 200, identity: { model: "Kit Phone" } });
  await ctx.dev.start();
  ctx.h = await AdbHarness.start();
  ctx.client = Adb.createClient({ host: "127.0.0.1", port: ctx.h.port });
  const answer = await ctx.client.connect("127.0.0.1", ctx.dev.adbPort);
  assert.is(answer, ctx.dev.adbSerial);
});

kit.after(async (ctx) => {
  await ctx.h?.stop();
  await ctx.dev?.stop();
  rmSync(ctx.dir, { recursive: true, force: true });
});

kit("listDevices and getProperties see the virtual board", async (ctx) => {
  const devices = await ctx.client.listDevices();
  assert.equal(
    devices.map((d: { id: string; type: string }) => [d.id, d.type]),
    [[ctx.dev.adbSerial, "device"]],
  );
  const props = await ctx.client.getDevice(ctx.dev.adbSerial).getProperties();
  assert.is(props["ro.product.model"], "Kit Phone");
  assert.is(props["ro.build.version.sdk"], "30");
});

kit("shell over the legacy service: getprop ro.product.model", async (ctx) => {
  const stream = await ctx.client.getDevice(ctx.dev.adbSerial).shell("getprop ro.product.model");
  const out = await Adb.util.readAll(stream);
  assert.is(out.toString("utf8"), "Kit Phone\n");
});

kit("openLogcat parses binary entries, including ones logged after it opened", async (ctx) => {
  const device = ctx.client.getDevice(ctx.dev.adbSerial);
  const reader = await device.openLogcat();
  const seen: { tag: string; message: string; priority: number }[] = [];
  const got = new Promise<void>((resolve) => {
    reader.on("entry", (e: { tag: string; message: string; priority: number }) => {
      seen.push({ tag: e.tag, message: e.message, priority: e.priority });
      if (e.tag === "HilProbe") resolve();
    });
  });
  ctx.dev.state.log("HilProbe", "hello from the test", 5);
  ctx.dev.state.log("HilQuiet", "debug is filtered by *:I", 3);
  await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error(`no HilProbe entry; saw ${JSON.stringify(seen)}`)), 5000))]);
  reader.end();
  const probe = seen.find((e) => e.tag === "HilProbe")!;
  assert.is(probe.message, "hello from the test");
  assert.is(probe.priority, 5);
  assert.ok(seen.some((e) => e.tag === "SystemServer"), "the backlog came first");
  assert.not.ok(seen.some((e) => e.tag === "HilQuiet"));
});

kit("install (sync push + pm install -r), isInstalled, uninstall", async (ctx) => {
  const skip = apkToolMissing();
  if (skip) return console.log(skip);
  const device = ctx.client.getDevice(ctx.dev.adbSerial);
  const apk = buildTestApk(ctx.dir, { packageName: "com.example.kit", versionCode: 2, versionName: "2.0", padBytes: 300_000 });
  assert.ok(await device.install(apk));
  assert.ok(await device.isInstalled("com.example.kit"));
  assert.equal(ctx.dev.state.fs.list("/data/local/tmp").filter((n) => n.endsWith(".apk")), [], "adbkit's rm -f removed its temporary copy");
  assert.ok(await device.uninstall("com.example.kit"));
  assert.not.ok(await device.isInstalled("com.example.kit"));
});

kit.run();
