// Android discovery in the inventory, with the real adb server the inventory starts and real virtual devices:
// devices matched to profiles by their properties, an unmatched one reported and not registered, offline /
// unauthorized / unplugged as board states and back to idle, and the identity check before a run.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { BoardSchema, ERROR_CODES, type Board, type LabErrorCode } from "@hil/contracts";
import { loadProfiles } from "@hil/device-profiles";
import { waitUntil } from "@hil/test-kit";
import { Inventory } from "../src/inventory/inventory.js";
import { executeAndroidControl, VirtualAndroid } from "../src/virtual/android/index.js";

const skip = existsSync("/usr/bin/adb") ? null : "needs Debian's adb at /usr/bin/adb; skipped";
const profiles = await loadProfiles();

interface Ctx {
  inv: Inventory;
  /** A phone on the network that no shipped profile's match fits. */
  stranger: VirtualAndroid;
  /** A virtual phone in another process's place, reached through --adb-connect. */
  remote: VirtualAndroid;
  added: Board[];
  states: [string, string, string][];
}

const it = suite<Ctx>("Android discovery");

it.before(async (ctx) => {
  if (skip) return;
  ctx.stranger = new VirtualAndroid({ id: "stranger", bootDelayMs: 100, identity: { model: "Pixel 8", product: "shiba", device: "shiba", sdk: 34 } });
  ctx.remote = new VirtualAndroid({ id: "remote", bootDelayMs: 100 });
  await ctx.stranger.start();
  await ctx.remote.start();
  ctx.added = [];
  ctx.states = [];
  ctx.inv = await Inventory.create({ agent: "disco", profiles, adbConnect: [ctx.stranger.adbSerial, ctx.remote.adbSerial] });
  ctx.inv.onAdded((b) => ctx.added.push(b));
  ctx.inv.onStateChanged((id, state, reason) => ctx.states.push([id, state, reason]));
  await ctx.inv.addVirtualAndroid({ count: 1, bootDelayMs: 100 });
});

it.after(async (ctx) => {
  await ctx.inv?.close();
  await ctx.stranger?.stop();
  await ctx.remote?.stop();
});

const board = (ctx: Ctx, id: string): Board | undefined => ctx.inv.list().find((b) => b.id === id);
const isInfra = (code: string | undefined): boolean => code !== undefined && ERROR_CODES[code as LabErrorCode]?.infra === true;

async function errorOf(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error("expected a failure");
}

it("devices are matched to profiles by their properties; one no profile fits is reported, not registered", async (ctx) => {
  if (skip) return console.log(skip);
  const remoteId = `android-virtual-${ctx.remote.adbSerial.replace(":", "-")}`;
  await waitUntil("the remote device registered", () => board(ctx, remoteId), 30_000);
  const own = board(ctx, "disco-vandroid-0");
  assert.ok(own, "the agent's own virtual device is a board");
  for (const b of ctx.inv.list()) BoardSchema.parse(b);
  assert.is(own.profile, "android-virtual");
  assert.is(own.state, "idle");
  assert.equal(own.identity.model, "HIL Virtual Phone");
  assert.equal(own.identity.product, "hil_phone");
  assert.ok(own.identity.serialNumber?.startsWith("HIL"), JSON.stringify(own.identity));
  assert.is(board(ctx, remoteId)?.endpoint, `adb:${ctx.remote.adbSerial}`);
  const unmatched = await waitUntil("the stranger reported", () => ctx.inv.unmatched().find((u) => u.serial === ctx.stranger.adbSerial), 30_000);
  assert.match(unmatched.reason, /model "Pixel 8", product "shiba", device "shiba", SDK 34 fits no Android profile/);
  assert.ok(!ctx.inv.list().some((b) => b.endpoint === `adb:${ctx.stranger.adbSerial}`), "no board for the unmatched device");
});

it("offline, unauthorized and unplugged are board states; the device back as `device` is idle again", async (ctx) => {
  if (skip) return console.log(skip);
  const id = "disco-vandroid-0";
  const dev = ctx.inv.virtualAndroid(id)!;
  for (const [fault, state] of [["offline", "offline"], ["unauthorized", "unauthorized"], ["unplug", "offline"]] as const) {
    ctx.added.length = 0;
    assert.match(await executeAndroidControl(dev, fault), /^ok/);
    await waitUntil(`${fault} → ${state}`, () => board(ctx, id)?.state === state, 60_000);
    assert.ok(ctx.states.some(([b, s]) => b === id && s === state), JSON.stringify(ctx.states));
    // a run on it now fails at once as an infrastructure error, before any step
    const err = await errorOf(ctx.inv.openTarget(id, { runId: "r-1" }));
    assert.ok(isInfra(err.code), `${err.code}: ${err.message}`);
    assert.match(await executeAndroidControl(dev, fault === "unplug" ? "replug" : "online"), /^ok/);
    await waitUntil(`${id} idle again after ${fault}`, () => board(ctx, id)?.state === "idle" && ctx.added.some((b) => b.id === id), 60_000);
  }
});

it("the identity is checked before a run: another device on the serial fails the run as IDENTITY_MISMATCH and the board is registered anew", async (ctx) => {
  if (skip) return console.log(skip);
  const id = "disco-vandroid-0";
  const dev = ctx.inv.virtualAndroid(id)!;
  const good = await ctx.inv.openTarget(id, { runId: "r-2" });
  await good.close();
  const serialBefore = board(ctx, id)?.identity.serialNumber;
  assert.match(await executeAndroidControl(dev, "setprop ro.serialno SWAPPED01"), /^ok/);
  ctx.states.length = 0;
  ctx.added.length = 0;
  const err = await errorOf(ctx.inv.openTarget(id, { runId: "r-3" }));
  assert.is(err.code, "IDENTITY_MISMATCH", err.message);
  assert.match(err.message, /serial "SWAPPED01" \(was "HIL/);
  await waitUntil("the old board offline", () => ctx.states.some(([b, s]) => b === id && s === "offline"), 30_000);
  const again = await waitUntil("registered anew", () => ctx.added.find((b) => b.id === id), 30_000);
  assert.is(again.identity.serialNumber, "SWAPPED01");
  assert.is.not(serialBefore, "SWAPPED01");
  const target = await ctx.inv.openTarget(id, { runId: "r-4" });
  await target.close();
});

/** The agent's adb server: its own child process running `adb … nodaemon server`. */
function adbServerPid(): number | undefined {
  for (const dir of readdirSync("/proc")) {
    if (!/^\d+$/.test(dir)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${dir}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]);
      const cmd = readFileSync(`/proc/${dir}/cmdline`, "utf8").split("\0");
      if (ppid === process.pid && cmd[0] === "/usr/bin/adb" && cmd.includes("nodaemon")) return Number(dir);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

it("the adb server dies: its boards go offline, and are idle again once the agent's new server has them back", async (ctx) => {
  if (skip) return console.log(skip);
  const id = "disco-vandroid-0";
  const pid = adbServerPid();
  assert.ok(pid, "the inventory runs its own adb server");
  ctx.states.length = 0;
  ctx.added.length = 0;
  process.kill(pid, "SIGKILL");
  await waitUntil("the board offline", () => ctx.states.some(([b, s]) => b === id && s === "offline"), 30_000);
  await waitUntil("the board idle again", () => board(ctx, id)?.state === "idle" && ctx.added.some((b) => b.id === id), 60_000);
  const next = adbServerPid();
  assert.ok(next !== undefined && next !== pid, "a new server, started by the agent");
  // during a run: the command in flight fails as an infrastructure error, and the board is usable again afterwards
  const target = await ctx.inv.openTarget(id, { runId: "r-5" });
  assert.ok(target.kind === "android");
  process.kill(next, "SIGKILL");
  const err = await errorOf(target.adb.shell("sleep 1; getprop ro.product.model", { timeoutMs: 20_000 }).then((r) => target.adb.ensureAttached(`getprop (exit ${r.exitCode})`)));
  assert.ok(isInfra(err.code), `${err.code}: ${err.message}`);
  await target.close();
  await waitUntil("a run opens again", async () => {
    const t = await ctx.inv.openTarget(id, { runId: "r-6" });
    await t.close();
    return true;
  }, 60_000, 500);
  const last = adbServerPid();
  assert.ok(last !== undefined && last !== next, "the agent's own server again, not one the adb client started");
});

it.run();
