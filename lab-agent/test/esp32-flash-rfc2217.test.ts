import { LabError, LinkClosedError } from "@hil/contracts";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { Esp32FlashDriver } from "../src/drivers/esp32/esp32-flash-driver.js";
import { buildEsp32Image } from "../src/esp32-image/image-writer.js";
import { Rfc2217Link } from "../src/links/rfc2217/rfc2217-link.js";
import { Rfc2217Server } from "../src/links/rfc2217/rfc2217-server.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { random, same, VIRTUAL_PROFILE } from "./esp32-flash-fixtures.js";

async function rig(id: string, pace = false) {
  const board = new VirtualEsp32({ id, pace });
  board.reset("run");
  const server = new Rfc2217Server(board, { port: 0 });
  const { port } = await server.listen();
  const link = new Rfc2217Link({ host: "127.0.0.1", port });
  return { board, server, link };
}

test("flash over RFC 2217: reset through SET-CONTROL, write at 921600, verify, skip on the second run", async () => {
  const { board, server, link } = await rig("rfc-0");
  try {
    const app = buildEsp32Image({ padTo: 512 * 1024, padSeed: 3 });
    const driver = new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE, expectedMac: board.mac });
    const first = await driver.flash([{ data: app, offset: 0x10000 }]);
    assert.is(first.alreadyFlashed, false);
    assert.ok(same(board.flash.subarray(0x10000, 0x10000 + app.length), app), "bytes on the board differ");
    await waitUntil("board back in its app", () => board.mode === "app", 5000);
    const second = await driver.flash([{ data: app, offset: 0x10000 }]);
    assert.is(second.alreadyFlashed, true);
    assert.is(board.stubStarts, 1);
  } finally {
    await link.close();
    await server.close();
    board.dispose();
  }
});

test("the server dropping the client mid-flash ends with 'link closed during flash' (LINK_CLOSED, infra)", async () => {
  const { board, server, link } = await rig("rfc-1", true);
  try {
    const driver = new Esp32FlashDriver({ link, profile: VIRTUAL_PROFILE });
    let dropped = false;
    let err: unknown;
    try {
      await driver.flash([{ data: random(512 * 1024), offset: 0x10000, kind: "raw" }], {
        onProgress: (p) => {
          if (!dropped && p.written > 0) {
            dropped = true;
            server.disconnectClients();
          }
        },
      });
    } catch (e) {
      err = e;
    }
    assert.ok(dropped, "the flash started writing before the drop");
    assert.instance(err, LinkClosedError);
    assert.is((err as LabError).code, "LINK_CLOSED");
    assert.match((err as Error).message, /link closed during flash/);
  } finally {
    await link.close();
    await server.close();
    board.dispose();
  }
});

test.run();
