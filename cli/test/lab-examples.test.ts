// The update suites as a user of `npm run lab` runs them (docs/ota.md and docs/android.md, "Try it in
// `npm run lab`"): one agent with 2 virtual ESP32s and 1 virtual Android, artifacts made by the `hil`
// command itself (`hil examples artifacts SUITE -o DIR`, or `hil image partition-table` + `hil image
// build --scenario ota --scenario-set …` by hand), then the `hil run` line it printed. Each run must pass,
// and what its steps saw must be what the artifacts were built to do; an "unconfirmed" update that does
// confirm itself must fail the rollback suite. Bad flags get exit 64 naming the flag.
import { generateKeyPairSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { findSuite } from "@hil/test-suites";
import { apkToolMissing } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { runIdOf, startLab, type Lab } from "./lab-fixture.js";

let lab: Lab;

test.before(async () => {
  lab = await startLab();
  await lab.startAgent("u3", ["--virtual", "esp32=2,android=1"]);
  await waitUntil(
    "2 ESP32s and 1 Android idle",
    async () => {
      const { boards } = (await lab.api<{ boards: { id: string; state: string }[] }>("GET", "/api/v1/boards")).body;
      return boards.filter((b) => b.state === "idle").length === 3;
    },
    60_000,
  );
});
test.after(async () => {
  await lab?.stop();
});

/** `hil …` to its end: exit code and output. */
async function hil(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = lab.hil(args);
  const code = await p.exited;
  return { code, out: p.output() };
}

/** `hil examples artifacts SUITE -o DIR`: the `hil run` arguments from the line it printed for the user. */
async function exampleRun(suite: string): Promise<string[]> {
  const dir = join(lab.dir, `ex-${suite}`);
  const { code, out } = await hil(["examples", "artifacts", suite, "-o", dir]);
  assert.is(code, 0, out);
  const line = /^ {2}npx hil (run .*)$/m.exec(out)?.[1];
  assert.ok(line, `a hil run line in:\n${out}`);
  // the lab's temp dir has no spaces, so the printed line needs no shell quoting
  return line.split(" ");
}

/** Runs `hil run … --junit`; resolves with the exit code, output and the run's steps. */
async function run(args: string[]) {
  const p = lab.hil([...args, "--timeout", "5m", "--junit", join(lab.dir, `junit-${Date.now()}.xml`)]);
  const code = await p.exited;
  const out = p.output();
  const id = runIdOf(out);
  return { code, out, steps: (await lab.getRun(id)).steps };
}

const stepMessage = (steps: { name: string; message?: string }[], name: string) => steps.find((s) => s.name === name)?.message ?? `(no step "${name}" in ${steps.map((s) => s.name).join(" | ")})`;

test("bad flags are usage errors (exit 64) naming the flag or field", async () => {
  const dir = join(lab.dir, "usage");
  const cases: [string[], RegExp][] = [
    [["examples", "artifacts", "esp32-smoke-nope", "-o", dir], /no example artifacts for suite "esp32-smoke-nope"; use one of .*esp32-ota-rollback/],
    [["examples", "artifacts", "esp32-ota-rollback"], /required option '-o, --output <dir>'/],
    [["image", "partition-table", "--layout", "three-ota", "-o", join(dir, "pt.bin")], /--layout "three-ota" is not a layout; use one of ota, factory-ota, single-app/],
    [["image", "build", "--scenario", "ota", "--scenario-set", "markvalid=false", "-o", join(dir, "a.bin")], /--scenario-set markvalid: scenario "ota" has no field "markvalid"/],
    [["image", "build", "--scenario", "ota", "--scenario-set", "companion.protocol=two", "-o", join(dir, "a.bin")], /companion\.protocol: .*expected number/],
    [["image", "build", "--scenario", "ota", "--scenario-set", "kind=idle", "-o", join(dir, "a.bin")], /--scenario-set cannot change "kind"/],
    [["image", "build", "--scenario", "ota", "--scenario-set", "markValid", "-o", join(dir, "a.bin")], /--scenario-set "markValid" is not KEY=VALUE/],
    [["image", "build", "--scenario-set", "markValid=false", "-o", join(dir, "a.bin")], /--scenario-set needs --scenario/],
    [["image", "build", "--scenario", "ota-nope", "-o", join(dir, "a.bin")], /scenario "ota-nope" is neither a built-in/],
  ];
  for (const [args, saw] of cases) {
    const { code, out } = await hil(args);
    assert.is(code, 64, `hil ${args.join(" ")}: ${out}`);
    assert.match(out, saw, `hil ${args.join(" ")}`);
  }
});

test("hil image partition-table writes tables that hil image partitions reads back", async () => {
  const ota = join(lab.dir, "ota-table.bin");
  assert.is((await hil(["image", "partition-table", "--layout", "ota", "-o", ota])).code, 0);
  const read = await hil(["image", "partitions", "--json", ota]);
  assert.is(read.code, 0, read.out);
  const table = JSON.parse(read.out) as { ok: boolean; entries: { label: string; type: number; subtype: number; offset: number; size: number }[]; md5?: { valid: boolean } };
  assert.ok(table.ok && table.md5?.valid, read.out);
  assert.equal(
    table.entries.filter((e) => ["otadata", "ota_0", "ota_1"].includes(e.label)).map((e) => [e.label, e.type, e.subtype, e.offset]),
    [["otadata", 1, 0x00, 0xd000], ["ota_0", 0, 0x10, 0x10000], ["ota_1", 0, 0x11, 0x190000]],
  );
  const factory = join(lab.dir, "factory-table.bin");
  assert.is((await hil(["image", "partition-table", "--layout", "factory-ota", "-o", factory])).code, 0);
  const text = await hil(["image", "partitions", factory]);
  assert.match(text.out, /factory +factory app +00 00 00010000/, text.out);
  assert.match(text.out, /ota_1 +OTA app +00 11 00210000/, text.out);
});

test("every example suite's artifacts are exactly the ones its suite file names", async () => {
  const { code, out } = await hil(["examples", "list", "--json"]);
  assert.is(code, 0, out);
  const list = JSON.parse(out) as { suite: string; artifacts: { name: string }[] }[];
  assert.ok(list.length >= 9, out);
  for (const example of list) {
    const suite = await findSuite(example.suite);
    assert.ok(suite, `${example.suite} is a shipped suite`);
    assert.equal(example.artifacts.map((a) => a.name).sort(), Object.keys(suite.artifacts ?? {}).sort(), example.suite);
  }
});

test("esp32-ota-rollback from hil examples artifacts: exit 0, the reset rolls back to v1", async () => {
  const r = await run(await exampleRun("esp32-ota-rollback"));
  assert.is(r.code, 0, r.out);
  assert.match(stepMessage(r.steps, "the new build boots once from ota_1, unconfirmed"), /^booted 2\.1\.0 from ota_1/);
  assert.match(stepMessage(r.steps, "the reset rolls back to v1 on ota_0"), /^rolled back: booted 1\.0\.0 from ota_0/);
});

test("esp32-ota-rollback from images built by hand with --scenario-set markValid=false: exit 0; a build that confirms itself fails it", async () => {
  const at = (f: string) => join(lab.dir, `hand-${f}`);
  const made = [
    ["image", "partition-table", "--layout", "ota", "-o", at("pt.bin")],
    ["image", "build", "--scenario", "ota", "--app-version", "1.0.0", "--pad-to", "96K", "-o", at("v1.bin")],
    ["image", "build", "--scenario", "ota", "--scenario-set", "markValid=false", "--app-version", "2.1.0", "--pad-to", "96K", "-o", at("unconfirmed.bin")],
    ["image", "build", "--scenario", "ota", "--app-version", "2.2.0", "--pad-to", "96K", "-o", at("confirms.bin")],
  ];
  for (const args of made) {
    const { code, out } = await hil(args);
    assert.is(code, 0, `hil ${args.join(" ")}: ${out}`);
  }
  const suite = (unconfirmed: string) => ["run", "--suite", "esp32-ota-rollback", "--profile", "esp32-virtual", "--artifact", `partition-table=${at("pt.bin")}`, "--artifact", `v1=${at("v1.bin")}`, "--artifact", `unconfirmed=${unconfirmed}`, "--wait"];
  const good = await run(suite(at("unconfirmed.bin")));
  assert.is(good.code, 0, good.out);
  assert.match(stepMessage(good.steps, "the reset rolls back to v1 on ota_0"), /^rolled back: booted 1\.0\.0 from ota_0/);

  const wrong = await run(suite(at("confirms.bin")));
  assert.is(wrong.code, 1, wrong.out);
  assert.match(wrong.out, /FAIL .*the reset rolls back to v1 on ota_0/, wrong.out);
});

test("esp32-ota-unsigned from hil examples artifacts: exit 0, the update without its signature is refused and the signed one boots", async () => {
  const r = await run(await exampleRun("esp32-ota-unsigned"));
  assert.is(r.code, 0, r.out);
  assert.match(stepMessage(r.steps, "the unsigned image is refused and v1 keeps running"), /^refused: .*Secure boot signature verification failed/);
  assert.match(stepMessage(r.steps, "the signed v2 is accepted and boots from ota_1"), /^booted 2\.0\.0 from ota_1/);
});

test("hil image sign: a signed image with its key digest; an image signed already, or a key not RSA-3072, is a usage error", async () => {
  const at = (f: string) => join(lab.dir, `sign-${f}`);
  const pem = (bits: number) => generateKeyPairSync("rsa", { modulusLength: bits }).privateKey.export({ type: "pkcs8", format: "pem" });
  await writeFile(at("key.pem"), pem(3072), { mode: 0o600 });
  await writeFile(at("small.pem"), pem(2048), { mode: 0o600 });
  assert.is((await hil(["image", "build", "--scenario", "ota", "--scenario-set", "signedUpdates=true", "-o", at("app.bin")])).code, 0);
  const signed = await hil(["image", "sign", at("app.bin"), "--key", at("key.pem"), "-o", at("signed.bin")]);
  assert.is(signed.code, 0, signed.out);
  assert.match(signed.out, /signature sector at 0x[0-9a-f]+000\)\nkey digest [0-9a-f]{64}/);
  const info = await hil(["image", "info", at("signed.bin")]);
  assert.is(info.code, 0, info.out);
  assert.match(info.out, /signature: +Secure Boot V2 \(RSA-3072 PSS\) at 0x[0-9a-f]+000, valid, key digest [0-9a-f]{64}/);
  const again = await hil(["image", "sign", at("signed.bin"), "--key", at("key.pem"), "-o", at("twice.bin")]);
  assert.is(again.code, 64, again.out);
  assert.match(again.out, /already carries a signature sector/);
  const small = await hil(["image", "sign", at("app.bin"), "--key", at("small.pem"), "-o", at("small.bin")]);
  assert.is(small.code, 64, small.out);
  assert.match(small.out, /RSA-3072; this key is rsa-2048/);
});

test("android-ab-update from hil examples artifacts: exit 0, the update boots its slot and the bad boot image falls back", async () => {
  const r = await run(await exampleRun("android-ab-update"));
  assert.is(r.code, 0, r.out);
  const [update, , fallback] = r.steps;
  assert.is(update?.details?.["slot.after"], update?.details?.["slot.target"], JSON.stringify(update));
  assert.is(fallback?.details?.["slot.after"], update?.details?.["slot.target"], JSON.stringify(fallback));
  assert.is(fallback?.details?.[`after.${String(fallback?.details?.["slot.target"])}.unbootable`], true, JSON.stringify(fallback));
});

const noApk = apkToolMissing();
if (noApk) {
  console.log(`[skip] the APK examples not run: ${noApk}`);
  test("without aapt, an example that needs APKs says how to get it (exit 64)", async () => {
    const { code, out } = await hil(["examples", "artifacts", "coupled-app-firmware-update", "-o", join(lab.dir, "no-aapt")]);
    assert.is(code, 64, out);
    assert.match(out, /apt-get install aapt/);
  });
} else {
  test("coupled-app-firmware-update from hil examples artifacts: exit 0, the old app fails as declared", async () => {
    const r = await run(await exampleRun("coupled-app-firmware-update"));
    assert.is(r.code, 0, r.out);
    assert.match(stepMessage(r.steps, "firmware v2 boots from ota_1"), /^booted 2\.0\.0 from ota_1/);
    assert.match(stepMessage(r.steps, "the new app works with the new firmware"), /2 tests: 2 passed/);
    assert.match(stepMessage(r.steps, "the old app against the new firmware (compatibility matrix)"), /1 of them failed as declared/);
  });

  test("android-instrumentation and provision-esp32-from-android from hil examples artifacts: exit 0", async () => {
    const instr = await run(await exampleRun("android-instrumentation"));
    assert.is(instr.code, 0, instr.out);
    assert.match(stepMessage(instr.steps, "instrumentation tests"), /2 tests: 2 passed/);
    const prov = await run(await exampleRun("provision-esp32-from-android"));
    assert.is(prov.code, 0, prov.out);
    // after the OTA suites above, one of the ESP32s runs ota_1: the suite's erase makes the new firmware boot anyway
    assert.match(stepMessage(prov.steps, "credentials received"), /Received Wi-Fi credentials/);
  });
}

test.run();
