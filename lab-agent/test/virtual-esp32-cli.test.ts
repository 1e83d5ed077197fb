import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnHil } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SerialPort } from "serialport";
import { ControlSocketReset } from "../src/runner/control-socket-reset.js";

/** One line to a board's control socket, through the client the runner and `hil flash` use. */
function control(path: string, line: string): Promise<string> {
  return new ControlSocketReset(path).command(line);
}

test("hil virtual esp32 --count 2 --pty DIR: one line per board, control socket resets into download mode, SIGTERM exits 0", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hil-vesp32-cli-"));
  const hil = spawnHil(["virtual", "esp32", "--count", "2", "--pty", dir, "--flash-size", "8MB"]);
  try {
    await hil.waitFor(/2 virtual ESP32 board\(s\) running/, 60_000);
    const lines = hil.output().split("\n").filter((l) => l.startsWith("esp32-"));
    assert.is(lines.length, 2, hil.output());
    const macs = lines.map((l) => /mac ([0-9a-f:]{17})/.exec(l)?.[1]);
    assert.ok(macs[0] && macs[1] && macs[0] !== macs[1], "each board has its own MAC");
    assert.match(lines[0] ?? "", /rfc2217:\/\/127\.0\.0\.1:\d+\s+pty .*esp32-0$/);
    const pty = join(dir, "esp32-1");
    assert.ok(existsSync(pty) && existsSync(`${pty}.ctl`));
    const port = new SerialPort({ path: pty, baudRate: 115200, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    let text = "";
    port.on("data", (d: Buffer) => (text += d.toString("latin1")));
    assert.is(await control(`${pty}.ctl`, "reset download"), "ok download");
    const start = Date.now();
    while (!text.includes("waiting for download") && Date.now() - start < 15_000) await new Promise((r) => setTimeout(r, 20));
    assert.match(text, /boot:0x3 \(DOWNLOAD_BOOT/);
    assert.match(await control(`${pty}.ctl`, "status"), /^ok download [0-9a-f:]{17}$/);
    assert.match(await control(`${pty}.ctl`, "frobnicate"), /^error unknown command/);
    await new Promise<void>((res) => port.close(() => res()));
    hil.child.kill("SIGTERM");
    assert.is(await hil.exited, 0, hil.output());
    assert.not.ok(existsSync(pty), "PTY links are removed on exit");
  } finally {
    await hil.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("hil virtual esp32 rejects a bad --flash-size with exit 64", async () => {
  const hil = spawnHil(["virtual", "esp32", "--flash-size", "3MB"]);
  try {
    assert.is(await hil.exited, 64);
    assert.match(hil.output(), /--flash-size "3MB"/);
  } finally {
    await hil.stop();
  }
});

test.run();
