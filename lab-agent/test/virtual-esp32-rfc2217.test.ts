import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { Rfc2217Link } from "../src/links/rfc2217/rfc2217-link.js";
import { Rfc2217Server } from "../src/links/rfc2217/rfc2217-server.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { connectEsptool, flashAndVerifyBothSizes, flashImage, randomImage, sameBytes } from "./virtual-esp32-esptool.js";

test("real esptool-js over RFC 2217: default_reset via DTR/RTS, 1 MiB + 4 MiB, read back", async () => {
  const board = new VirtualEsp32({ id: "rfc-0", mac: "a0:b0:11:22:33:02" });
  const server = new Rfc2217Server(board, { port: 0 });
  const { port } = await server.listen();
  const link = new Rfc2217Link({ host: "127.0.0.1", port, timeoutMs: 10_000 });
  let console = "";
  board.onTransmit((d) => {
    if (board.mode !== "stub") console += Buffer.from(d).toString("latin1");
  });
  try {
    await link.open();
    board.powerCycle();
    assert.is(board.mode, "app", "a power cycle boots the firmware, not the loader");
    await flashAndVerifyBothSizes(link, board, "default_reset");
    // The classic DTR/RTS sequence, not the control API, put the board in download mode.
    assert.match(console, /boot:0x3 \(DOWNLOAD_BOOT\(UART0\/UART1\/SDIO_REI_REO_V2\)\)\r\nwaiting for download/);
  } finally {
    await link.close().catch(() => undefined);
    await server.close();
    board.dispose();
  }
});

test("paced at 921600: a small compressed write still verifies, and the board follows CHANGE_BAUDRATE", async () => {
  const board = new VirtualEsp32({ id: "rfc-1", pace: true });
  const server = new Rfc2217Server(board, { port: 0 });
  const { port } = await server.listen();
  const link = new Rfc2217Link({ host: "127.0.0.1", port, timeoutMs: 10_000 });
  try {
    await link.open();
    const session = await connectEsptool(link, { mode: "default_reset" });
    try {
      assert.is(board.baudRate, 921600);
      const image = randomImage(64 * 1024);
      await flashImage(session, 0x20000, image);
      await session.loader.after("no_reset_stub");
      assert.ok(sameBytes(board.flash.subarray(0x20000, 0x20000 + image.length), image));
    } finally {
      await session.close();
    }
  } finally {
    await link.close().catch(() => undefined);
    await server.close();
    board.dispose();
  }
});

test("unplug drops the RFC 2217 client with an error; reset brings the board back", async () => {
  const board = new VirtualEsp32({ id: "rfc-2" });
  const server = new Rfc2217Server(board, { port: 0 });
  const { port } = await server.listen();
  const sub = board.onUnplug(() => server.disconnectClients());
  const link = new Rfc2217Link({ host: "127.0.0.1", port, timeoutMs: 10_000 });
  try {
    await link.open();
    let closedWith: unknown = "not closed";
    link.onClose((err) => (closedWith = err));
    board.unplug();
    await waitUntil("the link to close", () => closedWith !== "not closed");
    assert.ok(closedWith instanceof Error, "an unplug is not a clean close");
    assert.is((closedWith as { code?: string }).code, "LINK_CLOSED");
    board.reset("download");
    assert.is(board.mode, "download");
  } finally {
    sub.dispose();
    await link.close().catch(() => undefined);
    await server.close();
    board.dispose();
  }
});

test.run();
