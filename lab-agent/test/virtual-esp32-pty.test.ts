import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SerialPort } from "serialport";
import { waitUntil } from "@hil/test-kit";
import { SerialportLink } from "../src/links/serialport-link.js";
import { PtyExposure } from "../src/virtual/pty-exposure.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { startVirtualEsp32Fleet } from "../src/virtual/esp32/fleet.js";
import { flashAndVerifyBothSizes } from "./virtual-esp32-esptool.js";
import { ControlSocketReset } from "../src/runner/control-socket-reset.js";

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
      await waitUntil("the download banner", () => text.includes("waiting for download"));
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

/** One line to a board's control socket, through the client the runner and `hil flash` use. */
function control(path: string, line: string): Promise<string> {
  return new ControlSocketReset(path).command(line);
}

test("control socket unplug: the serialport link ends with LINK_CLOSED and the PTY goes; reset plugs it back", async () => {
  const dir = mkdtempSync(join(tmpdir(), "hil-vesp32-pty-"));
  const fleet = await startVirtualEsp32Fleet({ count: 1, ptyDir: dir });
  try {
    const b = fleet.boards[0];
    assert.ok(b?.ptyPath && b.controlPath);
    const link = new SerialportLink({ path: b.ptyPath });
    await link.open();
    let closedWith: unknown = "open";
    link.onClose((err) => (closedWith = err));
    assert.is(await control(b.controlPath, "unplug"), "ok unplugged");
    await waitUntil("the link to close after unplug", () => closedWith !== "open");
    assert.is((closedWith as { code?: string } | undefined)?.code, "LINK_CLOSED");
    assert.not.ok(existsSync(b.ptyPath));
    assert.is(await control(b.controlPath, "reset download"), "ok download");
    assert.ok(existsSync(b.ptyPath), "the PTY is back after a reset");
    await link.close().catch(() => undefined);
  } finally {
    await fleet.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
