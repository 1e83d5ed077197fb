// An agent killed with SIGKILL takes its adb server with it: an orphaned server would keep the bench's USB phones
// claimed, so the next agent's server would not see them. Debian's real adb, a real process killed for real.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";

/** A process that exists and is not a zombie (one whose parent died is reaped by init, or not, depending on the machine). */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

test("the adb server an agent started dies with the agent, even when the agent is SIGKILLed", async () => {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", fileURLToPath(new URL("./fixtures/adb-server-child.ts", import.meta.url))], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  let adbPid: number | undefined;
  try {
    const started = await waitUntil("the child's adb server", async () => (out.includes("\n") ? (JSON.parse(out.split("\n")[0]!) as { pid: number; port: number }) : undefined), 60_000);
    adbPid = started.pid;
    assert.ok(alive(adbPid), "the adb server runs");
    child.kill("SIGKILL");
    await waitUntil("the agent gone", async () => (child.exitCode !== null || child.signalCode !== null ? true : undefined), 20_000);
    await waitUntil("the adb server gone with it (before: it stayed, an orphan)", async () => (alive(adbPid!) ? undefined : true), 20_000);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    if (adbPid !== undefined && alive(adbPid)) process.kill(adbPid, "SIGKILL");
  }
});

test.run();
