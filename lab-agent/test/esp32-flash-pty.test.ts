import { join } from "node:path";
import { makeTempDir, waitUntil } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Esp32FlashDriver } from "../src/drivers/esp32/esp32-flash-driver.js";
import { buildEsp32Image } from "../src/esp32-image/image-writer.js";
import { SerialportLink } from "../src/links/serialport-link.js";
import { PtyExposure } from "../src/virtual/pty-exposure.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { same, VIRTUAL_PROFILE } from "./esp32-flash-fixtures.js";

test("flash through node serialport on a PTY (no DTR/RTS): resets go through the hooks, esptool-js never fails on setSignals", async () => {
  const tmp = await makeTempDir();
  const board = new VirtualEsp32({ id: "pty-0" });
  board.reset("run");
  const pty = new PtyExposure(board, join(tmp.dir, "esp32-0"));
  await pty.start();
  const link = new SerialportLink({ path: pty.path });
  const hooks: string[] = [];
  try {
    const driver = new Esp32FlashDriver({
      link,
      profile: VIRTUAL_PROFILE,
      enterDownloadMode: async () => {
        hooks.push("download");
        board.reset("download");
      },
      enterRunMode: async () => {
        hooks.push("run");
        board.reset("run");
      },
    });
    const app = buildEsp32Image({ padTo: 128 * 1024, padSeed: 5 });
    const report = await driver.flash([{ data: app, offset: 0x10000 }]);
    assert.is(link.hasModemLines, false, "a PTY has no modem lines");
    assert.is(report.alreadyFlashed, false);
    assert.ok(same(board.flash.subarray(0x10000, 0x10000 + app.length), app));
    assert.equal(hooks, ["download", "run"]);
    await waitUntil("board booted its app", () => board.mode === "app", 5000);
    const again = await driver.flash([{ data: app, offset: 0x10000 }]);
    assert.is(again.alreadyFlashed, true);
  } finally {
    await link.close();
    await pty.stop();
    board.dispose();
    await tmp.remove();
  }
});

test.run();
