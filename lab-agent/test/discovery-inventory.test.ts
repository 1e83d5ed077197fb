import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BoardSchema, type Board } from "@hil/contracts";
import { loadProfiles } from "@hil/device-profiles";
import { makeTempDir } from "@hil/test-kit";
import type { PortListing } from "../src/discovery/serial-discovery.js";
import { Inventory } from "../src/inventory/inventory.js";
import { buildEsp32Image } from "../src/esp32-image/index.js";
import { Rfc2217Server } from "../src/links/rfc2217/rfc2217-server.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";

const profiles = await loadProfiles();
const usb = profiles.get("esp32-devkitc")!.usb[0]!;

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

test("discovered boards join and leave the inventory on rescan", async () => {
  const tmp = await makeTempDir();
  let ports: PortListing[] = [
    { path: "/dev/ttyUSB0", vendorId: usb.vendorId, productId: usb.productId, serialNumber: "AAA1" },
    { path: "/dev/ttyUSB1", vendorId: usb.vendorId, productId: usb.productId, serialNumber: "BBB2" },
    { path: "/dev/ttyS0" },
  ];
  const inv = await Inventory.create({ agent: "bench1", profiles, discover: true, discovery: { list: async () => ports, serialDir: tmp.dir } });
  const added: Board[] = [];
  const removed: string[] = [];
  inv.onAdded((b) => added.push(b));
  inv.onRemoved((id) => removed.push(id));
  try {
    const ids = inv.list().map((b) => b.id).sort();
    assert.equal(ids, ["esp32-devkitc-aaa1", "esp32-devkitc-bbb2"]);
    for (const b of inv.list()) BoardSchema.parse(b);
    ports = ports.filter((p) => p.serialNumber !== "AAA1");
    ports.push({ path: "/dev/ttyUSB2", vendorId: usb.vendorId, productId: usb.productId, serialNumber: "CCC3" });
    await inv.rescan();
    assert.equal(removed, ["esp32-devkitc-aaa1"]);
    assert.equal(added.map((b) => b.id), ["esp32-devkitc-ccc3"]);
    assert.equal(inv.list().map((b) => b.id).sort(), ["esp32-devkitc-bbb2", "esp32-devkitc-ccc3"]);
    // the board's port does not exist here: opening it is an infrastructure error, not a crash
    const code = await codeOf(inv.openEsp32("esp32-devkitc-bbb2"));
    assert.ok(code === "LINK_OPEN_FAILED" || code === "LINK_CLOSED", String(code));
    assert.is(await codeOf(inv.openEsp32("no-such-board")), "BOARD_VANISHED");
  } finally {
    await inv.close();
    await tmp.remove();
  }
});

test("virtual ESP32s: distinct ids and MACs, reachable over RFC 2217 with resets through DTR/RTS", async () => {
  const inv = await Inventory.create({ agent: "bench2", profiles });
  try {
    const boards = await inv.addVirtualEsp32({ count: 2 });
    assert.equal(boards.map((b) => b.id), ["bench2-vesp32-0", "bench2-vesp32-1"]);
    assert.is.not(boards[0]!.identity.mac, boards[1]!.identity.mac);
    for (const b of boards) {
      BoardSchema.parse(b);
      assert.match(b.endpoint ?? "", /^rfc2217:\/\/127\.0\.0\.1:\d+$/);
      assert.is(b.virtual, true);
      assert.is(b.profile, "esp32-virtual");
    }
    const target = await inv.openEsp32(boards[1]!.id, { runId: "r9", startSeq: 1000 });
    try {
      await target.reset("run");
      const { entry } = await target.console.expect(/rst:0x1 \(POWERON_RESET\)/, { timeoutMs: 15_000 });
      assert.ok(entry.line.seq >= 1000, "the board's sequence continues from startSeq");
      assert.is(entry.line.run, "r9");
      assert.is(entry.line.board, "bench2-vesp32-1");
    } finally {
      await target.close();
    }
  } finally {
    await inv.close();
  }
});

test("a discovered board's MAC is learned at its first flash and checked from then on", async () => {
  const tmp = await makeTempDir();
  // A board "plugged in" as seen through a serial server: the listing names its RFC 2217 address.
  const device = new VirtualEsp32({ id: "bench-real-0" });
  const server = new Rfc2217Server(device, { port: 0 });
  const { url } = await server.listen();
  device.powerCycle();
  const inv = await Inventory.create({
    agent: "bench3",
    profiles,
    discover: true,
    discovery: { list: async () => [{ path: url, vendorId: usb.vendorId, productId: usb.productId, serialNumber: "SER9" }], serialDir: tmp.dir },
  });
  try {
    const [found] = inv.list();
    assert.ok(found);
    assert.is(found.identity.mac, undefined);
    const app = join(tmp.dir, "app.bin");
    await writeFile(app, buildEsp32Image({ scenario: { kind: "idle" } }));
    const target = await inv.openEsp32(found.id);
    try {
      await target.flash([{ name: "app", path: app, offset: 0x10000 }], { erase: false });
    } finally {
      await target.close();
    }
    assert.is(inv.get(found.id)?.identity.mac, device.mac);
  } finally {
    await inv.close();
    await server.close();
    device.dispose();
    await tmp.remove();
  }
});

test.run();
