import { LinkClosedError } from "@hil/contracts";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Transport } from "esptool-js";
import { waitUntil } from "@hil/test-kit";
import { WebSerialPortAdapter } from "../src/drivers/esp32/web-serial-port-adapter.js";
import { MemoryLink } from "../src/links/memory-link.js";
import { RecordingDevice } from "./link-test-device.js";

function collect(link: MemoryLink): { bytes: number[] } {
  const out = { bytes: [] as number[] };
  link.onData((c) => out.bytes.push(...c));
  return out;
}

test("MemoryLink carries bytes both ways, forwards DTR/RTS and baud", async () => {
  const dev = new RecordingDevice();
  const link = new MemoryLink(dev, { path: "memory:echo" });
  await link.open();
  const got = collect(link);
  await link.write(new Uint8Array([1, 2, 0xff]));
  await waitUntil("got.bytes.length === 3", () => got.bytes.length === 3, 5000);
  assert.equal(got.bytes, [1, 2, 0xff]);
  assert.ok(link.hasModemLines);
  assert.is(await link.setSignals({ dtr: true }), true);
  assert.equal(dev.signals, [{ dtr: true }]);
  await link.setBaudRate(921600);
  assert.is(link.baudRate, 921600);
  assert.equal(dev.bauds.at(-1), 921600);
  await link.close();
});

test("MemoryLink.sever() ends the link with LinkClosedError and later writes fail", async () => {
  const dev = new RecordingDevice();
  const link = new MemoryLink(dev);
  await link.open();
  let closedWith: unknown = "not closed";
  link.onClose((err) => (closedWith = err));
  link.sever();
  await waitUntil(`closedWith !== "not closed"`, () => closedWith !== "not closed", 5000);
  assert.instance(closedWith, LinkClosedError);
  assert.not.ok(link.isOpen);
  try {
    await link.write(new Uint8Array([1]));
    assert.unreachable("write after sever must fail");
  } catch (err) {
    assert.instance(err, LinkClosedError);
  }
  // A subscriber arriving after the close still hears about it.
  let late: unknown = "none";
  link.onClose((err) => (late = err));
  await waitUntil(`late !== "none"`, () => late !== "none", 5000);
  assert.instance(late, LinkClosedError);
});

test("a clean close() reports no error", async () => {
  const link = new MemoryLink(new RecordingDevice());
  await link.open();
  let closedWith: unknown = "not closed";
  link.onClose((err) => (closedWith = err));
  await link.close();
  await waitUntil(`closedWith !== "not closed"`, () => closedWith !== "not closed", 5000);
  assert.is(closedWith, undefined);
});

test("esptool-js Transport reads SLIP packets through WebSerialPortAdapter over a MemoryLink", async () => {
  const dev = new RecordingDevice();
  const link = new MemoryLink(dev);
  const adapter = new WebSerialPortAdapter(link, { usbVendorId: 0x10c4, usbProductId: 0xea60 });
  const transport = new Transport(adapter as unknown as SerialPort, false);
  await transport.connect(115200);
  void transport.readLoop();
  assert.ok(link.isOpen, "connect opens the link");
  // The echo device sends our SLIP frame back: Transport must decode it, escapes included.
  await transport.write(new Uint8Array([0x01, 0xc0, 0xdb, 0x02]));
  const pkt = await transport.read(3000);
  assert.equal([...pkt], [0x01, 0xc0, 0xdb, 0x02]);
  await transport.setDTR(true);
  await transport.setRTS(false);
  assert.equal(dev.signals, [{ dtr: true }, { rts: false }, { dtr: true }]);
  assert.is(transport.getInfo(), "WebSerial VendorID 0x10c4 ProductID 0xea60");
  await transport.changeBaudrate(460800);
  assert.is(link.baudRate, 460800, "baud changes in place through setBaudRate");
  assert.ok(link.isOpen, "no close/reopen");
  await transport.disconnect();
  await link.close();
});

test("a severed link ends the adapter's stream: the reader sees an error, not a hang", async () => {
  const dev = new RecordingDevice();
  const link = new MemoryLink(dev);
  const adapter = new WebSerialPortAdapter(link);
  await adapter.open({ baudRate: 115200 });
  const reader = adapter.readable!.getReader();
  const pending = reader.read();
  link.sever("cable pulled");
  try {
    await pending;
    assert.unreachable("read must fail");
  } catch (err) {
    assert.instance(err, LinkClosedError);
    assert.match((err as Error).message, /cable pulled/);
  }
  // A closed port has no streams, so esptool-js's disconnect() does not wait on a stuck writer lock.
  assert.is(adapter.readable, null);
  assert.is(adapter.writable, null);
});

test("Transport.disconnect() returns after the link died under a pending write", async () => {
  const link = new MemoryLink(new RecordingDevice());
  const adapter = new WebSerialPortAdapter(link);
  const transport = new Transport(adapter as unknown as SerialPort, false);
  await transport.connect(115200);
  void transport.readLoop();
  link.sever();
  await transport.write(new Uint8Array([1, 2, 3])).catch(() => undefined);
  let done = false;
  void transport.disconnect().then(() => (done = true));
  await waitUntil("done", () => done, 10_000);
  assert.ok(done);
});

test.run();
