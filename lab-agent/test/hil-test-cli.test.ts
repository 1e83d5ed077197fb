// `hil test` end to end, the command line itself: usage errors, Ctrl-C, a suite file, and a board
// behind a PTY reset through its control socket.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawnHil } from "@hil/test-kit";
import { startVirtualEsp32Fleet } from "../src/virtual/esp32/fleet.js";
import { exitWithin, startHilTestBench } from "./fixtures/hil-test-bench.js";

const bench = await startHilTestBench("cli-1");
const { url, image, hilTest } = bench;
const tmp = { dir: bench.dir };

test("usage errors exit 64 before touching the board", async () => {
  const missing = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-unity", "--out", join(tmp.dir, "u1")]);
  assert.is(missing.code, 64, missing.out);
  assert.match(missing.out, /needs --artifact test-app=FILE/);
  const badArtifact = await hilTest(["--port", url, "--profile", "esp32-virtual", "--suite", "esp32-smoke", "--artifact", "app"]);
  assert.is(badArtifact.code, 64, badArtifact.out);
});

test("Ctrl-C during a step: exit 3, the run recorded as cancelled (suite given as a file)", async () => {
  const suiteFile = join(tmp.dir, "wait-forever.yaml");
  await writeFile(
    suiteFile,
    ["name: wait-forever", "roles:", "  dut: { profile: esp32-virtual }", "steps:", "  - type: reset", "  - type: expect", "    pattern: never printed", "    timeout: 5m", ""].join("\n"),
  );
  const out = join(tmp.dir, "cancel");
  const p = spawnHil(["test", "--port", url, "--profile", "esp32-virtual", "--suite", suiteFile, "--out", out]);
  try {
    await p.waitFor(/\| rst:0x/, 60_000);
    p.child.kill("SIGINT");
    const code = await exitWithin(p, 30_000);
    assert.is(code, 3, p.output());
    const json = JSON.parse(await readFile(join(out, "result.json"), "utf8")) as { outcome: string };
    assert.is(json.outcome, "cancelled");
  } finally {
    await p.stop();
  }
});

test("a PTY board resets through its control socket: esp32-smoke passes over /dev/pts", async () => {
  const fleet = await startVirtualEsp32Fleet({ count: 1, ptyDir: tmp.dir, idPrefix: "pty" });
  try {
    const pty = fleet.boards[0]!.ptyPath!;
    const app = await image("smoke_pty", { kind: "console" });
    const r = await hilTest(["--port", pty, "--profile", "esp32-virtual", "--suite", "esp32-smoke", "--artifact", `app=${app}`, "--out", join(tmp.dir, "pty"), "--quiet"]);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, /control socket .*\.ctl/);
  } finally {
    await fleet.stop();
  }
});

test.after(async () => {
  await bench.stop();
});

test.run();
