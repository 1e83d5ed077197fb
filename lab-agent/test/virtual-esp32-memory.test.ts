import { test } from "uvu";
import * as assert from "uvu/assert";
import { MemoryLink } from "../src/links/memory-link.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { connectEsptool, flashImage, randomImage, sameBytes } from "./virtual-esp32-esptool.js";

test("esptool-js over an in-process link: default_reset, detect, stub, 921600, 1 MiB compressed write, read back", async () => {
  const board = new VirtualEsp32({ id: "mem-0", mac: "a0:b0:11:22:33:44" });
  const link = new MemoryLink(board, { path: "memory:mem-0" });
  await link.open();
  const session = await connectEsptool(link, { mode: "default_reset" });
  try {
    assert.match(session.chip, /^ESP32/);
    assert.ok(session.log.some((l) => l.includes("MAC: a0:b0:11:22:33:44")), session.log.join("\n"));
    assert.is(board.mode, "stub");
    assert.is(board.stubStarts, 1);
    assert.is(board.baudRate, 921600);
    const image = randomImage(1024 * 1024);
    await flashImage(session, 0x10000, image);
    assert.ok(session.log.some((l) => l.includes("Hash of data verified")), "esptool-js did not verify the MD5");
    await session.loader.after("no_reset_stub");
    assert.ok(sameBytes(board.flash.subarray(0x10000, 0x10000 + image.length), image), "flash array differs from the image");
    assert.is(board.flash[0x10000 + image.length], 0xff, "bytes after the image must stay erased");
    const back = await session.loader.readFlash(0x10000, image.length);
    assert.ok(sameBytes(back, image), "read back differs from the image");
  } finally {
    await session.close();
    await link.close();
    board.dispose();
  }
});

test.run();
