import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SerialPort } from "serialport";
import { SerialportLink } from "../src/links/serialport-link.js";
import { PtyExposure } from "../src/virtual/pty-exposure.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { flashAndVerifyBothSizes, waitFor } from "./virtual-esp32-esptool.js";

test("real esptool-js over node serialport on the PTY: no_reset after a control-API reset, 1 MiB + 4 MiB, read back", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hil-vesp32-pty-"));
  const board = new VirtualEsp32({ id: "pty-0", mac: "a0:b0:11:22:33:01" });
  const pty = new PtyExposure(board, join(dir, "esp32-0"));
  const link = new SerialportLink({ path: join(dir, "esp32-0") });
  try {
    await pty.start();
    // A PTY has no modem lines: put the board in download mode out of band, as the docs say.
    board.reset("download");
    await link.open();
    await flashAndVerifyBothSizes(link, board, "no_reset");
  } finally {
    await link.close().catch(() => undefined);
    await pty.stop();
    board.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the PTY survives a client closing and reopening it; ROM banner reaches the client", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hil-vesp32-pty-"));
  const board = new VirtualEsp32({ id: "pty-1" });
  const path = join(dir, "esp32-1");
  const pty = new PtyExposure(board, path);
  try {
    await pty.start();
    for (let round = 0; round < 3; round++) {
      const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
      await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
      let text = "";
      port.on("data", (d: Buffer) => (text += d.toString("latin1")));
      board.reset("download");
      await waitFor(() => text.includes("waiting for download"), "the download banner");
      assert.match(text, /rst:0x1 \(POWERON_RESET\),boot:0x3 \(DOWNLOAD_BOOT\(UART0\/UART1\/SDIO_REI_REO_V2\)\)/);
      await new Promise<void>((res) => port.close(() => res()));
    }
    assert.ok(pty.running, "socat must still be running after clients came and went");
  } finally {
    await pty.stop();
    board.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.not.ok(existsSync(path), "the PTY link is removed on stop");
});

test.run();
