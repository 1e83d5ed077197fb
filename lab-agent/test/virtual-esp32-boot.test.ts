import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { buildEsp32Image } from "../src/esp32-image/index.js";
import { Rfc2217Link } from "../src/links/rfc2217/rfc2217-link.js";
import { Rfc2217Server } from "../src/links/rfc2217/rfc2217-server.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { connectEsptool, flashImage } from "./virtual-esp32-esptool.js";

/**
 * Flash with the real esptool-js over RFC 2217, then pulse EN through RTS (IO0 high → normal boot)
 * and return what the board printed after the pulse.
 */
async function flashThenBoot(link: Rfc2217Link, board: VirtualEsp32, image: Uint8Array | "erase", until: RegExp): Promise<string> {
  const session = await connectEsptool(link, { mode: "default_reset" });
  try {
    if (image === "erase") await session.loader.eraseFlash();
    else await flashImage(session, 0x10000, image);
    await session.loader.after("no_reset_stub");
  } finally {
    await session.close();
  }
  let text = "";
  const sub = board.onTransmit((d) => (text += Buffer.from(d).toString("latin1")));
  try {
    await link.setSignals({ dtr: false, rts: true });
    await link.setSignals({ rts: false });
    await waitUntil(`${until} in the boot log; got:\n${text}`, () => until.test(text), 20_000);
    return text;
  } finally {
    sub.dispose();
  }
}

test("flash → RTS reset: the app's project and version; reflash → the new version; bad images → the bootloader's errors", async () => {
  const board = new VirtualEsp32({ id: "boot-0" });
  const server = new Rfc2217Server(board, { port: 0 });
  const { port } = await server.listen();
  const link = new Rfc2217Link({ host: "127.0.0.1", port, timeoutMs: 10_000 });
  try {
    await link.open();
    const v1 = await flashThenBoot(link, board, buildEsp32Image({ appDesc: { projectName: "blinky", version: "2.3.4" } }), /App version:\s+2\.3\.4/);
    assert.match(v1, /rst:0x1 \(POWERON_RESET\),boot:0x13 \(SPI_FAST_FLASH_BOOT\)/);
    assert.match(v1, /Project name:\s+blinky/);
    assert.not.match(v1, /waiting for download/);
    assert.is(board.mode, "app");

    const v2 = await flashThenBoot(link, board, buildEsp32Image({ appDesc: { projectName: "blinky", version: "2.3.5" } }), /App version:\s+2\.3\.5/);
    assert.not.match(v2, /2\.3\.4/);

    const s2 = await flashThenBoot(link, board, buildEsp32Image({ chip: "esp32s2" }), /mismatch chip ID, expected 0, found 2/);
    assert.not.match(s2, /Project name/);

    const good = buildEsp32Image({ appDesc: { projectName: "blinky", version: "9.9.9" } });
    const flipped = good.slice();
    flipped[0x200] = (flipped[0x200] ?? 0) ^ 0x01;
    const bad = await flashThenBoot(link, board, flipped, /Checksum failed|Image hash failed/);
    assert.not.match(bad, /App version:\s+9\.9\.9/);

    const empty = await flashThenBoot(link, board, "erase", /invalid magic byte/);
    assert.match(empty, /image at 0x10000 has invalid magic byte/);
  } finally {
    await link.close().catch(() => undefined);
    await server.close();
    board.dispose();
  }
});

test.run();
