// A run on two boards that work together: `provision-esp32-from-android` on one agent's virtual ESP32
// (provisioning firmware, advertising PROV_… on the bench's air) and virtual Android (the provisioning
// app's instrumentation test sends Wi-Fi credentials). The dispatcher leases both, each step runs on its
// role's board, both boards' lines land on the run's one timeline, and the JUnit holds both boards'
// results. A phone that gives the wrong proof of possession fails the run, naming its test.
import { readFile } from "node:fs/promises";
import { mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LogLine } from "@hil/contracts";
import { apkToolMissing, buildEsp32Image, buildTestApk, type InstrumentationScript } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { startLab, type Lab } from "./lab-fixture.js";

const RUNNER = "androidx.test.runner.AndroidJUnitRunner";
const skip = apkToolMissing();
let lab: Lab;

async function artifacts(pop: string): Promise<string[]> {
  const dir = await mkdtemp(join(lab.dir, "prov-"));
  const firmware = join(dir, "prov.bin");
  await writeFile(firmware, buildEsp32Image({ appDesc: { projectName: "wifi_prov_mgr", version: "5.1.0" }, scenario: { kind: "provisioning", pop: "abcd1234" } }));
  const script: InstrumentationScript = {
    tests: [
      { class: "com.example.provisioner.ProvisionTest", name: "scansAndFindsTheBoard", result: "pass", durationMs: 5, log: [] },
      { class: "com.example.provisioner.ProvisionTest", name: "sendsCredentials", result: "pass", durationMs: 5, log: [], provision: { servicePrefix: "PROV_", ssid: "hil-lab", password: "s3cret", pop, scanMs: 10_000 } },
    ],
  };
  const app = buildTestApk(join(dir, "app"), { packageName: "com.example.provisioner", versionCode: 1, versionName: "1.0", permissions: ["android.permission.ACCESS_FINE_LOCATION"] });
  const tests = buildTestApk(join(dir, "tests"), { packageName: "com.example.provisioner.test", versionCode: 1, versionName: "1.0", instrumentation: { runner: RUNNER, targetPackage: "com.example.provisioner" }, instrumentationScript: script });
  return ["--artifact", `firmware=${firmware}`, "--artifact", `provisioner=${app}`, "--artifact", `provisioner-tests=${tests}`];
}

const where = ["--role", "dut=esp32-virtual", "--role", "phone=android-virtual"];

if (skip) {
  console.log(`[skip] two-board provisioning not run: ${skip}`);
} else {
  test.before(async () => {
    lab = await startLab();
    await lab.startAgent("pv", ["--virtual", "esp32=1,android=1"]);
    await waitUntil("both boards idle", async () => {
      const { boards } = (await lab.api<{ boards: { id: string; state: string }[] }>("GET", "/api/v1/boards")).body;
      return boards.filter((b) => b.state === "idle").length === 2;
    });
  });
  test.after(async () => {
    await lab?.stop();
  });

  test("the phone provisions the ESP32: both boards leased, both logs on the run's timeline, both boards' results in the JUnit", async () => {
    const junit = join(lab.dir, "prov.xml");
    const run = lab.hil(["run", "--suite", "provision-esp32-from-android", ...where, ...(await artifacts("abcd1234")), "--timeout", "5m", "--wait", "--junit", junit]);
    assert.is(await run.exited, 0, run.output());
    const id = /run (\S+) submitted/.exec(run.output())![1]!;
    const r = await lab.getRun(id);
    assert.equal(Object.keys(r.boards).sort(), ["dut", "phone"]);
    assert.ok(r.boards["dut"]!.startsWith("pv-vesp32-") && r.boards["phone"]!.startsWith("pv-vandroid-"), JSON.stringify(r.boards));
    const xml = await readFile(junit, "utf8");
    assert.match(xml, /<testcase[^>]*name="sendsCredentials"/, "the phone's instrumentation tests");
    assert.match(xml, /<testcase[^>]*name="\d+ credentials received"/, xml);
    assert.is(xml.match(/name="sendsCredentials"/g)?.length, 1, "each instrumentation test once");
    assert.not.match(xml, /<failure|<error/);
    const log = (await lab.api<LogLine[]>("GET", `/api/v1/runs/${id}/log?format=json`)).body;
    const dut = log.findIndex((l) => l.board === r.boards["dut"] && /Received Wi-Fi credentials/.test(l.text));
    const phone = log.findIndex((l) => l.board === r.boards["phone"] && /provisioned PROV_/.test(l.text));
    assert.ok(dut >= 0 && phone >= 0, "both boards' lines are in the run's log");
    assert.ok(log.every((l, i) => i === 0 || l.wall >= log[i - 1]!.wall), "one timeline, ordered by time");
    assert.ok(log.some((l) => l.board === r.boards["dut"] && /SSID +: hil-lab/.test(l.text)));
    for (const b of Object.values(r.boards)) assert.is((await lab.api<{ state: string }>("GET", `/api/v1/boards/${b}`)).body.state, "idle", `${b} released`);
  });

  test("a wrong proof of possession: the device refuses, the phone's test fails by name, exit 1, and both boards are released", async () => {
    const run = lab.hil(["run", "--suite", "provision-esp32-from-android", ...where, ...(await artifacts("wrong-pop")), "--timeout", "5m", "--wait"]);
    assert.is(await run.exited, 1, run.output());
    assert.match(run.output(), /sendsCredentials/);
    const id = /run (\S+) submitted/.exec(run.output())![1]!;
    const r = await lab.getRun(id);
    const log = (await lab.api<LogLine[]>("GET", `/api/v1/runs/${id}/log?format=json`)).body;
    assert.ok(log.some((l) => l.board === r.boards["dut"] && /Key mismatch/.test(l.text)), "the board's side of the refusal");
    for (const b of Object.values(r.boards)) {
      await waitUntil(`${b} released`, async () => (await lab.api<{ state: string }>("GET", `/api/v1/boards/${b}`)).body.state === "idle", 30_000);
    }
  });

  test.run();
}
