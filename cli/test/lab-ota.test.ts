// OTA suites through the real lab (docs/ota.md): `hil run` against a scheduler on a private Redis and
// one agent with a virtual ESP32 and a virtual Android phone. The four esp32-ota-* example suites each
// end with the board booting a valid app; coupled-app-firmware-update updates the firmware by OTA, runs
// the new companion app's tests against it over the bench's air, then the old app's with its declared
// incompatibility. An old app that turns out compatible after all breaks the declaration: exit 1,
// naming the test.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LogLine } from "@hil/contracts";
import { apkToolMissing, buildEsp32Image, buildPartitionTable, buildTestApk, OTA_ONLY_TABLE, type InstrumentationScript } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { startLab, type Lab } from "./lab-fixture.js";

const RUNNER = "androidx.test.runner.AndroidJUnitRunner";
const LINK_TEST = "com.example.companion.FirmwareLinkTest";
let lab: Lab;
type Scenario = NonNullable<NonNullable<Parameters<typeof buildEsp32Image>[0]>["scenario"]>;

async function dir(prefix: string): Promise<string> {
  return mkdtemp(join(lab.dir, prefix));
}

async function firmware(at: string, name: string, version: string, scenario: Scenario): Promise<string> {
  const path = join(at, name);
  await writeFile(path, buildEsp32Image({ appDesc: { projectName: "ota_demo", version }, scenario, padTo: 96 * 1024, padSeed: version.charCodeAt(0) }));
  return path;
}

async function partitionTable(at: string): Promise<string> {
  const path = join(at, "partition-table.bin");
  await writeFile(path, buildPartitionTable(OTA_ONLY_TABLE));
  return path;
}

const args = (a: Record<string, string>): string[] => Object.entries(a).flatMap(([k, v]) => ["--artifact", `${k}=${v}`]);

/** `hil run --wait --junit`: the exit code, the run's id and the JUnit file's text. */
async function hilRun(suite: string, where: string[], artifacts: Record<string, string>): Promise<{ code: number | null; output: string; id: string; junit: string }> {
  const junit = join(lab.dir, `${suite}-${Date.now()}.xml`);
  const run = lab.hil(["run", "--suite", suite, ...where, ...args(artifacts), "--timeout", "5m", "--wait", "--junit", junit]);
  const code = await run.exited;
  const id = /run (\S+) submitted/.exec(run.output())?.[1] ?? "";
  let xml = "";
  try {
    xml = await readFile(junit, "utf8");
  } catch {
    // no JUnit written: the assertions on it say so
  }
  return { code, output: run.output(), id, junit: xml };
}

const TWO_BOARDS = ["--role", "dut=esp32-virtual", "--role", "phone=android-virtual"];
const testcases = (xml: string): string[] => [...xml.matchAll(/<testcase name="([^"]*)"/g)].map((m) => m[1]!);

test.before(async () => {
  lab = await startLab();
  await lab.startAgent("ot", ["--virtual", "esp32=1,android=1"]);
  await waitUntil("both boards idle", async () => {
    const { boards } = (await lab.api<{ boards: { id: string; state: string }[] }>("GET", "/api/v1/boards")).body;
    return boards.filter((b) => b.state === "idle").length === 2;
  });
});
test.after(async () => {
  await lab?.stop();
});

test("the four esp32-ota-* suites pass through hil run, each ending on a board that boots a valid app", async () => {
  const at = await dir("ota-");
  const pt = await partitionTable(at);
  const v1 = await firmware(at, "v1.bin", "1.0.0", { kind: "ota" });
  const v2 = await firmware(at, "v2.bin", "2.0.0", { kind: "ota" });
  const unconfirmed = await firmware(at, "v2-unconfirmed.bin", "2.1.0", { kind: "ota", markValid: false });
  // suite, artifacts, and what named steps saw (the last one is the suite's final boot check)
  const cases: [string, Record<string, string>, [string, RegExp][]][] = [
    ["esp32-ota-happy", { "partition-table": pt, v1, v2 }, [["after a reset v2 still boots from ota_1 (it confirmed itself)", /^booted 2\.0\.0 from ota_1/]]],
    [
      "esp32-ota-interrupted",
      { "partition-table": pt, v1, v2 },
      [
        ["the cut download is refused and v1 keeps running", /^refused: .*ota: OTA failed/],
        ["after a reset the old version still boots from ota_0", /^booted 1\.0\.0 from ota_0/],
        ["after a reset v2 still boots from ota_1", /^booted 2\.0\.0 from ota_1/],
      ],
    ],
    [
      "esp32-ota-rollback",
      { "partition-table": pt, v1, unconfirmed },
      [
        ["the reset rolls back to v1 on ota_0", /^rolled back: booted 1\.0\.0 from ota_0/],
        ["v1 stays the app that boots", /^booted 1\.0\.0 from ota_0/],
      ],
    ],
    [
      "esp32-ota-bad-image",
      { "partition-table": pt, v1, v2 },
      [
        ["the corrupt image is refused and v1 keeps running", /^refused: /],
        ["the image for another chip is refused and v1 keeps running", /^refused: .*mismatch chip ID/],
        ["after a reset the old version still boots from ota_0", /^booted 1\.0\.0 from ota_0/],
      ],
    ],
  ];
  for (const [suite, artifacts, checks] of cases) {
    const r = await hilRun(suite, ["--profile", "esp32-virtual"], artifacts);
    assert.is(r.code, 0, `${suite}: ${r.output}`);
    assert.match(r.junit, new RegExp(`<testsuite name="${suite}" tests="\\d+" failures="0" errors="0"`), r.junit);
    const names = testcases(r.junit);
    const run = await lab.getRun(r.id);
    assert.is(names.length, run.steps.length, `${suite}: one testcase per step`);
    for (const [name, saw] of checks) {
      assert.ok(names.some((n) => n.endsWith(` ${name}`)), `${suite}: testcase "${name}" in ${names.join(" | ")}`);
      assert.match(run.steps.find((st) => st.name === name)?.message ?? "", saw, `${suite}: ${name}`);
    }
    assert.is(run.steps.at(-1)?.name, checks.at(-1)?.[0], `${suite} ends by checking the board boots a valid app`);
    const trigger = run.steps.find((s) => s.type === "ota.trigger");
    assert.is(trigger?.details?.trigger, "profile", `${suite}: the trigger comes from esp32-virtual's ota.trigger`);
  }
});

const skip = apkToolMissing();
if (skip) {
  console.log(`[skip] coupled-app-firmware-update not run: ${skip}`);
} else {
  /** Firmware v1/v2 (companion protocol 1/2) and the two app generations; `oldSpeaks` is the old app's protocol range. */
  async function coupled(oldSpeaks: [number, number]): Promise<Record<string, string>> {
    const at = await dir("coupled-");
    const apk = (name: string, versionCode: number, script?: InstrumentationScript) =>
      script === undefined
        ? buildTestApk(join(at, name), { packageName: "com.example.companion", versionCode, versionName: `${versionCode}.0` })
        : buildTestApk(join(at, name), { packageName: "com.example.companion.test", versionCode, versionName: `${versionCode}.0`, instrumentation: { runner: RUNNER, targetPackage: "com.example.companion" }, instrumentationScript: script });
    const tests = ([minProtocol, maxProtocol]: [number, number]): InstrumentationScript => ({
      tests: [
        { class: LINK_TEST, name: "readsAppVersion", result: "pass", durationMs: 5, log: [] },
        { class: LINK_TEST, name: "talksToBoard", result: "pass", durationMs: 5, log: [], talk: { servicePrefix: "DEV_", minProtocol, maxProtocol, scanMs: 10_000 } },
      ],
    });
    return {
      "partition-table": await partitionTable(at),
      "firmware-v1": await firmware(at, "fw-v1.bin", "1.0.0", { kind: "ota", companion: { protocol: 1 } }),
      "firmware-v2": await firmware(at, "fw-v2.bin", "2.0.0", { kind: "ota", companion: { protocol: 2 } }),
      "app-v2": apk("app-v2", 2),
      "app-v2-tests": apk("app-v2-tests", 2, tests([2, 2])),
      "app-v1": apk("app-v1", 1),
      "app-v1-tests": apk("app-v1-tests", 1, tests(oldSpeaks)),
    };
  }

  test("coupled-app-firmware-update: firmware v2 by OTA, the new app talks to it, the old app fails as declared; exit 0", async () => {
    const r = await hilRun("coupled-app-firmware-update", TWO_BOARDS, await coupled([1, 1]));
    assert.is(r.code, 0, r.output);
    assert.match(r.junit, /<testsuite name="coupled-app-firmware-update" tests="\d+" failures="0" errors="0"/, r.junit);
    assert.is(r.junit.match(/<testcase name="talksToBoard"/g)?.length, 2, "the new and the old app's test, each once");
    assert.match(r.junit, /<testcase name="\d+ the board still boots firmware v2 from ota_1"/);
    const run = await lab.getRun(r.id);
    const old = run.steps.find((s) => s.name === "the old app against the new firmware (compatibility matrix)");
    assert.match(old?.message ?? "", /2 tests: 2 passed, 0 failed, 0 errors, 0 skipped, 1 of them failed as declared/);
    const declared = old?.cases.find((c) => c.name === "talksToBoard");
    assert.match(declared?.message ?? "", /^failed as declared \(app 1\.x speaks companion protocol 1 only; firmware 2 speaks protocol 2\): .*DEV_[0-9A-F]{6} refused: firmware 2\.0\.0 speaks protocol 2; com\.example\.companion\.test speaks 1\.\.1/);
    // the boards really talked: the ESP32's side of both conversations is on the run's timeline
    const log = (await lab.api<LogLine[]>("GET", `/api/v1/runs/${r.id}/log?format=json`)).body;
    const dut = (re: RegExp) => log.findIndex((l) => l.board === run.boards["dut"] && re.test(l.text));
    const connected = dut(/companion: com\.example\.companion\.test connected \(protocol 2\)/);
    const refused = dut(/companion: refused com\.example\.companion\.test: it speaks protocol 1\.\.1, this firmware speaks 2/);
    assert.ok(connected >= 0 && refused > connected, `the new app connected, then the old one was refused (${connected}, ${refused})`);
  });

  test("an old app that works after all contradicts the declared incompatibility: exit 1, naming the test", async () => {
    const r = await hilRun("coupled-app-firmware-update", TWO_BOARDS, await coupled([1, 2]));
    assert.is(r.code, 1, r.output);
    assert.match(r.output, /com\.example\.companion\.FirmwareLinkTest#talksToBoard/);
    assert.match(r.junit, /<testcase name="talksToBoard"[^>]*>\s*<failure message="declared to fail \(app 1\.x speaks companion protocol 1 only; firmware 2 speaks protocol 2\) but passed/);
    const run = await lab.getRun(r.id);
    for (const b of Object.values(run.boards)) {
      await waitUntil(`${b} released`, async () => (await lab.api<{ state: string }>("GET", `/api/v1/boards/${b}`)).body.state === "idle", 30_000);
    }
  });
}

test.run();
