import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PROFILES_DIR } from "../src/index.js";
import { runHil } from "./run-hil.js";

let tmp = "";
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "hil-profiles-cli-"));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

test("hil profiles check on the shipped profiles exits 0", async () => {
  const r = await runHil(["profiles", "check"]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(r.stdout, "");
  assert.match(r.stderr, /5 profile\(s\) valid/);
});

test("a misspelt field and a bad vendor id: exit 1, exactly two lines naming both with their lines", async () => {
  const original = await readFile(join(PROFILES_DIR, "esp32-devkitc.yaml"), "utf8");
  const lines = original.split("\n");
  const flashLine = lines.indexOf("flash:") + 1;
  const vidLine = lines.findIndex((l) => l.includes('vendorId: "10c4"')) + 1;
  assert.ok(flashLine > 0 && vidLine > 0, "fixture lines found");
  const bad = original.replace(/^flash:/m, "flsh:").replace('vendorId: "10c4"', 'vendorId: "10c4x"');
  const file = join(tmp, "bad-devkitc.yaml");
  await writeFile(file, bad);
  const r = await runHil(["profiles", "check", file]);
  assert.is(r.code, 1, r.stdout + r.stderr);
  const out = r.stdout.trimEnd().split("\n");
  assert.equal(out, [
    `${file}:${vidLine}: usb[0].vendorId: vendorId must be 4 hex digits, e.g. 10c4`,
    `${file}:${flashLine}: flsh: unknown field (did you mean flash?)`,
  ]);
});

test("a file that does not exist is a problem line and exit 1; valid files next to it are still checked", async () => {
  const missing = join(tmp, "nope.yaml");
  const r = await runHil(["profiles", "check", join(PROFILES_DIR, "esp32-virtual.yaml"), missing]);
  assert.is(r.code, 1);
  assert.is(r.stdout, `${missing}:0: file not found\n`);
});

test("hil profiles list shows every shipped profile", async () => {
  const r = await runHil(["profiles", "list"]);
  assert.is(r.code, 0, r.stderr);
  for (const id of ["esp32-devkitc", "esp32-s3-devkitc-1", "esp32-virtual", "android-generic", "android-virtual"]) {
    assert.match(r.stdout, new RegExp(`^${id} `, "m"));
  }
  assert.match(r.stdout, /10c4:ea60,1a86:7523/);
});

test.run();
