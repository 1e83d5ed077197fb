import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadProfiles } from "@hil/device-profiles";
import { makeTempDir } from "@hil/test-kit";
import { discoverSerialBoards, listSerialPorts } from "../src/discovery/serial-discovery.js";
import { matchBoards } from "../src/discovery/usb-fingerprint.js";
import { watchUsb } from "../src/discovery/usb-watcher.js";

const profiles = await loadProfiles();
const devkit = profiles.get("esp32-devkitc");
const fp = devkit?.usb[0];

test("shipped profiles carry USB fingerprints to match on", () => {
  assert.ok(devkit && fp, "esp32-devkitc has a USB fingerprint");
});

test("identical boards are told apart by serial number, serial-less clones by hub port; unknown ports are left out", () => {
  const vid = fp!.vendorId;
  const pid = fp!.productId;
  const boards = matchBoards(
    [
      { path: "/dev/ttyUSB0", vendorId: vid.toUpperCase(), productId: pid, serialNumber: "A1B2C3", byId: "/dev/serial/by-id/usb-Silicon_Labs_CP2102_A1B2C3-if00-port0", byPath: "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1.1:1.0-port0" },
      { path: "/dev/ttyUSB1", vendorId: vid, productId: pid, serialNumber: "D4E5F6", byPath: "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1.2:1.0-port0" },
      { path: "/dev/ttyUSB2", vendorId: vid, productId: pid, serialNumber: "0001", byPath: "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1.3:1.0-port0" },
      { path: "/dev/ttyUSB3", vendorId: vid, productId: pid, serialNumber: "0001", byPath: "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1.4:1.0-port0" },
      { path: "/dev/ttyACM0", vendorId: "dead", productId: "beef", serialNumber: "X" },
      { path: "/dev/ttyS0" },
    ],
    profiles.values(),
  );
  assert.is(boards.length, 4);
  const [a, b, c, d] = boards;
  assert.ok(a!.id.endsWith("-a1b2c3"), a!.id);
  assert.is(a!.endpoint, "/dev/serial/by-id/usb-Silicon_Labs_CP2102_A1B2C3-if00-port0", "by-id is the stable endpoint");
  assert.is(a!.identity.serialNumber, "A1B2C3");
  assert.is(a!.identity.usbVendorId, vid.toLowerCase());
  assert.ok(b!.id.endsWith("-d4e5f6"));
  assert.is(b!.endpoint, "/dev/serial/by-path/pci-0000:00:14.0-usb-0:1.2:1.0-port0");
  // two boards sharing serial "0001": ids from their hub ports, and distinct
  assert.is.not(c!.id, d!.id);
  assert.match(c!.id, /1\.3/);
  assert.match(d!.id, /1\.4/);
  for (const x of boards) assert.match(x.id, /^[a-z0-9][a-z0-9._-]{0,62}$/);
  assert.ok(boards.every((x) => !profiles.get(x.profile)!.virtual), "virtual profiles never match hardware");
});

test("by-id and by-path symlinks are resolved to their ttys", async () => {
  const tmp = await makeTempDir();
  try {
    const dev = join(tmp.dir, "dev");
    await mkdir(join(dev, "serial", "by-id"), { recursive: true });
    await mkdir(join(dev, "serial", "by-path"), { recursive: true });
    await writeFile(join(dev, "ttyUSB7"), "");
    await symlink(join(dev, "ttyUSB7"), join(dev, "serial", "by-id", "usb-Silicon_Labs_CP2102_ZZ9-if00-port0"));
    await symlink(join(dev, "ttyUSB7"), join(dev, "serial", "by-path", "pci-0000:00:14.0-usb-0:2:1.0-port0"));
    await symlink(join(dev, "ttyGONE"), join(dev, "serial", "by-path", "dangling"));
    const list = async () => [{ path: join(dev, "ttyUSB7"), vendorId: fp!.vendorId, productId: fp!.productId, serialNumber: "ZZ9" }];
    const ports = await listSerialPorts({ list, serialDir: join(dev, "serial") });
    assert.is(ports[0]?.byId, join(dev, "serial", "by-id", "usb-Silicon_Labs_CP2102_ZZ9-if00-port0"));
    assert.is(ports[0]?.byPath, join(dev, "serial", "by-path", "pci-0000:00:14.0-usb-0:2:1.0-port0"));
    const boards = await discoverSerialBoards(profiles.values(), { list, serialDir: join(dev, "serial") });
    assert.is(boards.length, 1);
    assert.ok(boards[0]!.id.endsWith("-zz9"));
  } finally {
    await tmp.remove();
  }
});

test("the real SerialPort.list() on this machine does not throw", async () => {
  const boards = await discoverSerialBoards(profiles.values());
  assert.ok(Array.isArray(boards));
  const ports = await listSerialPorts();
  assert.ok(ports.every((p) => typeof p.path === "string"));
});

test("watchUsb is a logged no-op where /sys/bus/usb is missing, and never throws", async () => {
  const logs: string[] = [];
  const w = await watchUsb(() => undefined, (m) => logs.push(m), "/nonexistent/sys/bus/usb");
  assert.match(logs[0] ?? "", /no \/nonexistent\/sys\/bus\/usb/);
  w.dispose();
  const real = await watchUsb(() => undefined, (m) => logs.push(m));
  real.dispose();
});

test.run();
