import { spawnSync } from "node:child_process";
import { connect, type Socket } from "node:net";
import { LinkClosedError } from "@hil/contracts";
import { spawnTracked, waitUntil } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Rfc2217Link } from "../src/links/rfc2217/rfc2217-link.js";
import { Rfc2217Server } from "../src/links/rfc2217/rfc2217-server.js";
import { RecordingDevice } from "./link-test-device.js";

const IAC = 255;

test("Rfc2217Link ↔ Rfc2217Server: data (with 0xFF), baud, DTR/RTS in order, purge", async () => {
  const dev = new RecordingDevice();
  const server = new Rfc2217Server(dev, { port: 0, resetPolicy: "literal" });
  const { port } = await server.listen();
  const link = new Rfc2217Link({ host: "127.0.0.1", port, baudRate: 115200 });
  try {
    await link.open();
    assert.ok(link.isOpen);
    assert.equal(dev.bauds, [115200], "open sends SET-BAUDRATE");
    const got: number[] = [];
    link.onData((c) => got.push(...c));
    const payload = Uint8Array.from({ length: 70_000 }, (_, i) => (i % 7 === 0 ? 0xff : i & 0xff));
    await link.write(payload);
    await waitUntil("echo of 70000 bytes", () => got.length >= payload.length, 20_000);
    assert.equal(dev.received.length, payload.length);
    assert.ok(
      dev.received.every((b, i) => b === payload[i]),
      "the device got the bytes un-doubled",
    );
    assert.ok(
      got.every((b, i) => b === payload[i]),
      "the host got the echo un-doubled",
    );
    await link.setSignals({ dtr: false, rts: true });
    await link.setSignals({ dtr: true });
    await link.setSignals({ rts: false });
    assert.equal(dev.signals, [{ dtr: false }, { rts: true }, { dtr: true }, { rts: false }]);
    await link.setBaudRate(921600);
    assert.equal(dev.bauds.at(-1), 921600);
    await link.purge();
  } finally {
    await link.close();
    await server.close();
  }
});

test("the ESP auto-reset policy: DTR asserted while the client holds RTS is the download entry, done board-side in one move", async () => {
  const dev = new RecordingDevice();
  const server = new Rfc2217Server(dev, { port: 0 });
  const { port } = await server.listen();
  const link = new Rfc2217Link({ host: "127.0.0.1", port, baudRate: 115200 });
  try {
    await link.open();
    // esptool's classic reset, step by step as pyserial sends it (each RTS change re-sends DTR)
    for (const s of [{ dtr: false }, { rts: true }, { dtr: false }, { dtr: true }, { rts: false }, { dtr: true }, { dtr: false }]) await link.setSignals(s);
    assert.equal(dev.signals, [{ dtr: false }, { rts: true }, { dtr: false }, { dtr: true, rts: false }, { dtr: true }, { dtr: false }], "EN released with IO0 low at once; the client's RTS off was already done");
    // a terminal program opening the port (DTR then RTS asserted) and a hard-reset pulse pass as they are
    dev.signals.length = 0;
    for (const s of [{ dtr: true }, { rts: true }, { dtr: false }, { rts: true }, { rts: false }]) await link.setSignals(s);
    assert.equal(dev.signals, [{ dtr: true }, { rts: true }, { dtr: false }, { rts: true }, { rts: false }]);
  } finally {
    await link.close();
    await server.close();
  }
});

test("server disconnecting its client ends the link with LinkClosedError, and pending commands fail", async () => {
  const dev = new RecordingDevice();
  const server = new Rfc2217Server(dev, { port: 0 });
  const { port } = await server.listen();
  const link = new Rfc2217Link({ host: "127.0.0.1", port });
  try {
    await link.open();
    let closedWith: unknown = "open";
    link.onClose((err) => (closedWith = err));
    await waitUntil("server.hasClient", () => server.hasClient);
    server.disconnectClients();
    await waitUntil("close event", () => closedWith !== "open", 10_000);
    assert.instance(closedWith, LinkClosedError);
    try {
      await link.setSignals({ dtr: true });
      assert.unreachable();
    } catch (err) {
      assert.instance(err, LinkClosedError);
    }
  } finally {
    await link.close();
    await server.close();
  }
});

test("a second client replaces the first (documented policy)", async () => {
  const dev = new RecordingDevice();
  const server = new Rfc2217Server(dev, { port: 0 });
  const { port } = await server.listen();
  const first = new Rfc2217Link({ host: "127.0.0.1", port });
  const second = new Rfc2217Link({ host: "127.0.0.1", port });
  try {
    await first.open();
    let firstClosed: unknown = "open";
    first.onClose((err) => (firstClosed = err));
    await second.open();
    await waitUntil("first client dropped", () => firstClosed !== "open", 10_000);
    assert.instance(firstClosed, LinkClosedError);
    const got: number[] = [];
    second.onData((c) => got.push(...c));
    await second.write(new Uint8Array([9, 8, 7]));
    await waitUntil("got.length === 3", () => got.length === 3);
    assert.equal(got, [9, 8, 7]);
  } finally {
    await first.close();
    await second.close();
    await server.close();
  }
});

test("opening something that is not an RFC 2217 server fails with LINK_OPEN_FAILED, not a hang", async () => {
  const { createServer } = await import("node:net");
  const mute = createServer((s) => s.on("data", () => undefined));
  await new Promise<void>((r) => mute.listen(0, "127.0.0.1", () => r()));
  const port = (mute.address() as { port: number }).port;
  const link = new Rfc2217Link({ host: "127.0.0.1", port, timeoutMs: 1000 });
  try {
    await link.open();
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code?: string }).code, "LINK_OPEN_FAILED");
    assert.match((err as Error).message, /RFC 2217/);
  } finally {
    await link.close();
    await new Promise<void>((r) => mute.close(() => r()));
  }
});

/** A raw TCP client: exact bytes, split however we like. */
async function rawClient(port: number): Promise<{ socket: Socket; bytes: number[] }> {
  const socket = connect({ host: "127.0.0.1", port });
  const bytes: number[] = [];
  socket.on("data", (d) => bytes.push(...d));
  await new Promise<void>((r, j) => {
    socket.once("connect", () => r());
    socket.once("error", j);
  });
  socket.setNoDelay(true);
  return { socket, bytes };
}

function indexOfSeq(hay: number[], needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

test("raw TCP client: split negotiation and subnegotiation, IAC doubling both ways", async () => {
  const dev = new RecordingDevice();
  dev.echo = false;
  const server = new Rfc2217Server(dev, { port: 0 });
  const { port } = await server.listen();
  const { socket, bytes } = await rawClient(port);
  const send = async (b: number[]) => {
    socket.write(Uint8Array.from(b));
    await new Promise((r) => setTimeout(r, 20));
  };
  try {
    // The server moves first: it asks us to do COM-PORT-OPTION.
    await waitUntil("DO COM-PORT-OPTION from server", () => indexOfSeq(bytes, [IAC, 253, 44]) >= 0, 5000);
    // WILL COM-PORT-OPTION split after IAC.
    await send([IAC]);
    await send([251, 44]);
    // DO ECHO must be refused (the server does not echo).
    await send([IAC, 253, 1]);
    await waitUntil("WONT ECHO", () => indexOfSeq(bytes, [IAC, 252, 1]) >= 0, 5000);
    // SET-CONTROL DTR on, split inside the subnegotiation.
    await send([IAC, 250, 44]);
    await send([5, 8, IAC]);
    await send([240]);
    await waitUntil("SET-CONTROL answer 105", () => indexOfSeq(bytes, [IAC, 250, 44, 105, 8, IAC, 240]) >= 0, 5000);
    assert.equal(dev.signals, [{ dtr: true }]);
    // SET-BAUDRATE 0x0000FF00 = 65280: the 0xFF inside must be doubled by us and by the server.
    await send([IAC, 250, 44, 1, 0, 0, IAC, IAC, 0, IAC, 240]);
    await waitUntil("SET-BAUDRATE answer 101", () => indexOfSeq(bytes, [IAC, 250, 44, 101, 0, 0, IAC, IAC, 0, IAC, 240]) >= 0, 5000);
    assert.equal(dev.bauds, [65280]);
    // PURGE-DATA is answered with 112.
    await send([IAC, 250, 44, 12, 1, IAC, 240]);
    await waitUntil("PURGE-DATA answer", () => indexOfSeq(bytes, [IAC, 250, 44, 112, 1, IAC, 240]) >= 0, 5000);
    // Host data with a doubled IAC split between the pair reaches the device as one 0xFF.
    await send([0x10, IAC]);
    await send([IAC, 0x11]);
    await waitUntil("dev.received.length === 3", () => dev.received.length === 3);
    assert.equal(dev.received, [0x10, 0xff, 0x11]);
    // Device data with 0xFF arrives doubled.
    const before = bytes.length;
    dev.transmit(Uint8Array.from([0x20, 0xff, 0x21]));
    await waitUntil("bytes.length >= before + 4", () => bytes.length >= before + 4);
    assert.equal(bytes.slice(before, before + 4), [0x20, IAC, IAC, 0x21]);
  } finally {
    socket.destroy();
    await server.close();
  }
});

// npm test installs Debian's python3-serial (scripts/sysdeps.mjs) for the system interpreter; a
// python3 earlier on PATH (pyenv) may not see it.
const pyserialPython = ["python3", "/usr/bin/python3"].find(
  (py) => spawnSync(py, ["-c", "import serial.rfc2217"], { stdio: "ignore" }).status === 0,
);
test("pyserial's rfc2217:// client opens the port, toggles DTR/RTS, and exchanges data", async () => {
  if (!pyserialPython) throw new Error("no python3 with pyserial: run `node scripts/sysdeps.mjs` (installs python3-serial)");
  const dev = new RecordingDevice();
  const server = new Rfc2217Server(dev, { port: 0 });
  const { port } = await server.listen();
  const script = [
    "import serial, sys",
    `s = serial.serial_for_url('rfc2217://127.0.0.1:${port}', baudrate=115200, timeout=3)`,
    "s.dtr = False; s.rts = True; s.dtr = True; s.rts = False",
    "s.reset_input_buffer()",
    "s.write(b'\\x01\\xff\\x02')",
    "print('echo', s.read(3).hex(), flush=True)",
    "s.close()",
  ].join("\n");
  const py = spawnTracked(pyserialPython, ["-c", script]);
  try {
    await py.waitFor(/echo 01ff02/, 30_000);
    assert.is(await py.exited, 0);
    assert.equal(dev.received, [0x01, 0xff, 0x02]);
    assert.ok(dev.signals.some((s) => s.rts === true) && dev.signals.some((s) => s.dtr === true));
  } finally {
    await py.stop();
    await server.close();
  }
});

test.run();
