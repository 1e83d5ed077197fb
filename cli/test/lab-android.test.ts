// Android runs end to end: `hil agent --virtual android=1` hosts a virtual Android that the agent's own
// adb server connects to; `hil run --suite android-instrumentation` installs a real app APK and its test
// APK (built with Debian's aapt) and runs AndroidJUnitRunner's tests; per-test results reach the JUnit,
// a failing test fails the run (exit 1) by name, and the device's logcat lands in the board's log.
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { LogLine } from "@hil/contracts";
import { apkToolMissing, buildTestApk, type InstrumentationScript } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { startLab, type Lab } from "./lab-fixture.js";

const BOARD = "an-vandroid-0";
const RUNNER = "androidx.test.runner.AndroidJUnitRunner";
const skip = apkToolMissing();
let lab: Lab;

async function apks(script: InstrumentationScript): Promise<{ app: string; tests: string }> {
  const dir = await mkdtemp(join(lab.dir, "apk-"));
  const app = buildTestApk(join(dir, "app"), { packageName: "com.example.app", versionCode: 3, versionName: "1.2" });
  const tests = buildTestApk(join(dir, "tests"), {
    packageName: "com.example.app.test",
    versionCode: 3,
    versionName: "1.2",
    instrumentation: { runner: RUNNER, targetPackage: "com.example.app" },
    instrumentationScript: script,
  });
  return { app, tests };
}

if (skip) {
  console.log(`[skip] Android end-to-end tests not run: ${skip}`);
} else {
  test.before(async () => {
    lab = await startLab();
    await lab.startAgent("an", ["--virtual", "android=1"]);
    await waitUntil("the virtual Android registered", async () => (await lab.api<{ state?: string }>("GET", `/api/v1/boards/${BOARD}`)).body.state === "idle", 60_000);
  });
  test.after(async () => {
    await lab?.stop();
  });

  test("hil run android-instrumentation passes on the virtual Android, with one JUnit testcase per instrumentation test and logcat in the board's log", async () => {
    const { app, tests } = await apks({
      tests: [
        { class: "com.example.app.LoginTest", name: "goodPin", result: "pass", durationMs: 20, log: ["checking the good pin"] },
        { class: "com.example.app.LoginTest", name: "lockout", result: "pass", durationMs: 20, log: [] },
      ],
    });
    const junit = join(lab.dir, "android.xml");
    const run = lab.hil(["run", "--suite", "android-instrumentation", "--profile", "android-virtual", "--artifact", `app=${app}`, "--artifact", `test-apk=${tests}`, "--timeout", "3m", "--wait", "--junit", junit]);
    assert.is(await run.exited, 0, run.output());
    const xml = await readFile(junit, "utf8");
    assert.match(xml, /<testcase[^>]*name="goodPin"/);
    assert.match(xml, /<testcase[^>]*name="lockout"/);
    assert.not.match(xml, /<failure|<error/);
    const log = (await lab.redis.xrange(lab.keys.boardLog(BOARD), "-", "+")).map(([, f]) => JSON.parse(f[1] ?? "{}") as LogLine);
    assert.ok(log.some((l) => l.stream === "logcat" && /checking the good pin/.test(l.text)), "the test's logcat line is in the board's log");
  });

  test("a failing instrumentation test fails the run (exit 1) and is named, with its stack in the JUnit", async () => {
    const { app, tests } = await apks({
      tests: [
        { class: "com.example.app.LoginTest", name: "goodPin", result: "pass", durationMs: 5, log: [] },
        { class: "com.example.app.LoginTest", name: "badPin", result: "fail", stack: "java.lang.AssertionError: expected:<locked> but was:<open>\n\tat com.example.app.LoginTest.badPin(LoginTest.java:42)", durationMs: 5, log: [] },
      ],
    });
    const junit = join(lab.dir, "android-fail.xml");
    const run = lab.hil(["run", "--suite", "android-instrumentation", "--profile", "android-virtual", "--artifact", `app=${app}`, "--artifact", `test-apk=${tests}`, "--timeout", "3m", "--wait", "--junit", junit]);
    assert.is(await run.exited, 1, run.output());
    assert.match(run.output(), /badPin/);
    const xml = await readFile(junit, "utf8");
    assert.match(xml, /<testcase[^>]*name="badPin"[\s\S]*?<failure[^>]*>[\s\S]*expected:&lt;locked&gt; but was:&lt;open&gt;/);
  });

  test.run();
}
