import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { PROFILES_DIR, yamlFilesIn } from "@hil/device-profiles";
import { SUITES_DIR } from "../src/index.js";

// The shared spawnHil helper lives in @hil/scheduler, which depends on this package (a reference
// cycle for tsc -b), so this file starts the real CLI from sources itself.
const REPO_ROOT = join(SUITES_DIR, "..", "..");

async function runHil(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", join(REPO_ROOT, "cli", "src", "run.ts"), ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), 60_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", resolve);
    });
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  }
}

let tmp = "";
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "hil-suites-cli-"));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const SUITE = `name: lab-only
roles:
  dut: { profile: bench-esp32 }
artifacts:
  app: { kind: esp32-app }
steps:
  - type: flash
    images: [{ artifact: app }]
  - type: send
    role: dut2
    text: hello
`;

test("hil suites check on the shipped suites exits 0; list shows them", async () => {
  const r = await runHil(["suites", "check"]);
  assert.is(r.code, 0, r.stdout + r.stderr);
  assert.is(r.stdout, "");
  assert.match(r.stderr, new RegExp(`^${(await yamlFilesIn(SUITES_DIR)).length} suite\\(s\\) valid`, "m"));
  const l = await runHil(["suites", "list"]);
  assert.is(l.code, 0, l.stderr);
  assert.match(l.stdout, /^provision-esp32-from-android\s+\d+ steps\s+dut=esp32-devkitc phone=android-generic$/m);
});

test("a step on an unknown role: exit 1 and one FILE:LINE line", async () => {
  const file = join(tmp, "suite.yaml");
  await writeFile(file, SUITE.replace("bench-esp32", "esp32-virtual"));
  const r = await runHil(["suites", "check", file]);
  assert.is(r.code, 1, r.stderr);
  assert.equal(r.stdout.trimEnd().split("\n"), [`${file}:10: steps[1].role: role "dut2" is not one of this suite's roles (dut)`]);
});

test("--profiles DIR: roles may name the profiles found there, and broken profiles there are reported", async () => {
  const dir = join(tmp, "profiles");
  await mkdir(dir);
  await copyFile(join(PROFILES_DIR, "esp32-virtual.yaml"), join(dir, "bench-esp32.yaml"));
  const file = join(tmp, "bench.yaml");
  await writeFile(file, SUITE.replace("role: dut2", "role: dut"));
  const shipped = await runHil(["suites", "check", file]);
  assert.is(shipped.code, 1);
  assert.match(shipped.stdout, /bench\.yaml:3: roles\.dut\.profile: no device profile "bench-esp32"/);
  // Same file, but the profile directory holds a copy of esp32-virtual with its id still esp32-virtual.
  const stillUnknown = await runHil(["suites", "check", "--profiles", dir, file]);
  assert.is(stillUnknown.code, 1);
  await writeFile(join(dir, "bench-esp32.yaml"), (await readFile(join(PROFILES_DIR, "esp32-virtual.yaml"), "utf8")).replace("id: esp32-virtual", "id: bench-esp32"));
  const ok = await runHil(["suites", "check", "--profiles", dir, file]);
  assert.is(ok.code, 0, ok.stdout + ok.stderr);
  await writeFile(join(dir, "broken.yaml"), "id: broken\nname: Broken\nkind: esp32\nvirtual: true\nchp: esp32\n");
  const broken = await runHil(["suites", "check", "--profiles", dir, file]);
  assert.is(broken.code, 1);
  assert.match(broken.stdout, /broken\.yaml:5: chp: unknown field \(did you mean chip\?\)/);
});

test.run();
