import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnHil } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pickFreePort } from "../src/virtual/android/index.js";
import { AdbHarness } from "./fixtures/adb-harness.js";

function control(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => s.write(`${line}\n`));
    let answer = "";
    s.on("data", (d) => {
      answer += d.toString("utf8");
      if (answer.endsWith("\n")) {
        s.end();
        resolve(answer.trim());
      }
    });
    s.on("error", reject);
  });
}

test("hil virtual android --count 2 --adb-port P --control DIR: real adb connects to both; SIGTERM exits 0", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hil-vandroid-cli-"));
  // Two consecutive free ports: try until P and P+1 are both outside 5555–5585 and free.
  let adbPort = await pickFreePort();
  while (adbPort >= 65535) adbPort = await pickFreePort();
  const hil = spawnHil(["virtual", "android", "--count", "2", "--adb-port", String(adbPort), "--control", dir, "--boot-delay", "100"]);
  const h = await AdbHarness.start();
  try {
    await hil.waitFor(/2 virtual Android board\(s\) running/, 60_000);
    const lines = hil.output().split("\n").filter((l) => l.startsWith("android-"));
    assert.is(lines.length, 2, hil.output());
    assert.match(lines[1] ?? "", new RegExp(`^android-1  serial \\S+  adb connect 127\\.0\\.0\\.1:${adbPort + 1}  fastboot -s tcp:127\\.0\\.0\\.1:\\d+  control .*android-1\\.ctl$`));
    for (const p of [adbPort, adbPort + 1]) assert.is((await h.adb(["connect", `127.0.0.1:${p}`])).stdout.trim(), `connected to 127.0.0.1:${p}`);
    const model = await h.adb(["-s", `127.0.0.1:${adbPort + 1}`, "shell", "getprop", "ro.product.model"]);
    assert.is(model.stdout, "HIL Virtual Phone\n");
    assert.match(await control(join(dir, "android-0.ctl"), "status"), /^ok (booting|device) adb 127\.0\.0\.1:\d+ /);
    hil.child.kill("SIGTERM");
    assert.is(await hil.exited, 0, hil.output());
    assert.not.ok(existsSync(join(dir, "android-0.ctl")), "control sockets are removed on exit");
  } finally {
    await h.stop();
    await hil.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("hil virtual android refuses an adb port in the emulator scan range with exit 64", async () => {
  const hil = spawnHil(["virtual", "android", "--adb-port", "5555"]);
  try {
    assert.is(await hil.exited, 64);
    assert.match(hil.output(), /--adb-port 5555 must stay outside 5555–5585/);
  } finally {
    await hil.stop();
  }
});

test.run();
