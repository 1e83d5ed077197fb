// Android A/B updates end to end: `hil agent --virtual android=1` hosts a virtual Android whose
// bootloader keeps A/B slot metadata; `hil run --suite android-ab-update` flashes the inactive slot,
// boots it, then flashes an unbootable build and sees the fallback. The JUnit has one testcase per
// step, the run keeps what each step saw, and an unexpected fallback fails the run (exit 1) naming
// the step.
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { StepResult } from "@hil/contracts";
import { UNBOOTABLE_MARKER } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { runIdOf, startLab, type Lab } from "./lab-fixture.js";

const BOARD = "ab-vandroid-0";
let lab: Lab;
let images: { boot: string; system: string; bad: string };

test.before(async () => {
  lab = await startLab();
  await lab.startAgent("ab", ["--virtual", "android=1"]);
  await waitUntil("the virtual Android registered", async () => (await lab.api<{ state?: string }>("GET", `/api/v1/boards/${BOARD}`)).body.state === "idle", 60_000);
  const file = async (name: string, data: Buffer) => {
    const path = join(lab.dir, name);
    await writeFile(path, data);
    return path;
  };
  images = {
    boot: await file("boot.img", Buffer.concat([Buffer.from("ANDROID!"), randomBytes(1024 * 1024)])),
    system: await file("system.img", randomBytes(4 * 1024 * 1024)),
    bad: await file("bad-boot.img", Buffer.concat([Buffer.from(`ANDROID!${UNBOOTABLE_MARKER}`), randomBytes(1024 * 1024)])),
  };
});

test.after(async () => {
  await lab?.stop();
});

const abRun = (boot: string, junit: string) =>
  lab.hil(["run", "--suite", "android-ab-update", "--profile", "android-virtual", "--artifact", `boot=${boot}`, "--artifact", `system=${images.system}`, "--artifact", `bad-boot=${images.bad}`, "--timeout", "5m", "--wait", "--junit", junit]);

test("hil run android-ab-update passes: the update boots on the inactive slot, the unbootable one falls back; one JUnit testcase per step", async () => {
  const junit = join(lab.dir, "ab.xml");
  const run = abRun(images.boot, junit);
  assert.is(await run.exited, 0, run.output());
  const xml = await readFile(junit, "utf8");
  for (const name of ["update to the inactive slot", "the updated build is up", "an unbootable update falls back", "the previous build still runs"]) {
    assert.match(xml, new RegExp(`<testcase[^>]*name="\\d+ ${name}"`), `${name} in:\n${xml}`);
  }
  assert.not.match(xml, /<failure|<error/);
  const steps = (await lab.getRun(runIdOf(run.output()))).steps as StepResult[];
  const [update, , fallback] = steps;
  assert.equal([update?.details?.["slot.before"], update?.details?.["slot.after"], update?.details?.["after.b.successful"]], ["a", "b", true], JSON.stringify(update));
  assert.equal([fallback?.details?.["slot.target"], fallback?.details?.["slot.after"], fallback?.details?.["after.a.unbootable"], fallback?.details?.["after.current"]], ["a", "b", true, "b"], JSON.stringify(fallback));
});

test("an update that falls back when it should have booted fails the run (exit 1), naming the step and the slot it came back on", async () => {
  const junit = join(lab.dir, "ab-fail.xml");
  const run = abRun(images.bad, junit);
  assert.is(await run.exited, 1, run.output());
  // The board runs slot b after the first test, so the update goes to slot a and the device stays on b.
  assert.match(run.output(), /FAIL update to the inactive slot: expected the device to boot the updated slot a; it came back on slot b/, run.output());
  const xml = await readFile(junit, "utf8");
  assert.match(xml, /<testcase[^>]*name="\d+ update to the inactive slot"[^>]*>\s*<failure[^>]*message="expected the device to boot the updated slot a/);
  assert.is((await lab.api<{ state?: string }>("GET", `/api/v1/boards/${BOARD}`)).body.state !== "quarantined", true, "a test failure does not quarantine the board");
});

test.run();
