import { existsSync } from "node:fs";
import { join } from "node:path";
import { LinkClosedError } from "@hil/contracts";
import { makeTempDir, type Spawned, spawnTracked, waitUntil } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { WebSerialPortAdapter } from "../src/drivers/esp32/web-serial-port-adapter.js";
import { SerialportLink } from "../src/links/serialport-link.js";

/** Two cross-connected PTYs (socat), neither with modem lines. */
async function ptyPair(dir: string): Promise<{ a: string; b: string; socat: Spawned }> {
  const a = join(dir, "a");
  const b = join(dir, "b");
  const socat = spawnTracked("socat", [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`]);
  await waitUntil("existsSync(a) && existsSync(b)", () => existsSync(a) && existsSync(b));
  return { a, b, socat };
}

test("SerialportLink on a PTY: bytes both ways, no modem lines, setSignals resolves false", async () => {
  const tmp = await makeTempDir();
  const { a, b, socat } = await ptyPair(tmp.dir);
  const left = new SerialportLink({ path: a, baudRate: 115200 });
  const right = new SerialportLink({ path: b, baudRate: 115200 });
  try {
    await left.open();
    await right.open();
    assert.is(left.hasModemLines, false, "a PTY reports no modem lines");
    assert.is(await left.setSignals({ dtr: true, rts: false }), false);
    const got: number[] = [];
    right.onData((c) => got.push(...c));
    const payload = new Uint8Array(4096).map((_, i) => i & 0xff);
    await left.write(payload);
    await waitUntil("got.length === payload.length", () => got.length === payload.length);
    assert.equal(got, [...payload]);
    await left.setBaudRate(921600);
    assert.is(left.baudRate, 921600);
    await left.purge();
    // The adapter swallows DTR/RTS on a link without modem lines instead of failing esptool-js.
    const adapter = new WebSerialPortAdapter(left);
    await adapter.open({ baudRate: 921600 });
    await adapter.setSignals({ dataTerminalReady: false, requestToSend: true });
    await adapter.close();
  } finally {
    await left.close();
    await right.close();
    await socat.stop();
    await tmp.remove();
  }
});

test("SerialportLink whose other end disappears closes with LinkClosedError", async () => {
  const tmp = await makeTempDir();
  const { a, socat } = await ptyPair(tmp.dir);
  const link = new SerialportLink({ path: a });
  try {
    await link.open();
    let closedWith: unknown = "open";
    link.onClose((err) => (closedWith = err));
    await socat.stop();
    await waitUntil(`closedWith !== "open"`, () => closedWith !== "open", 20_000);
    assert.instance(closedWith, LinkClosedError);
    assert.not.ok(link.isOpen);
  } finally {
    await link.close();
    await socat.stop();
    await tmp.remove();
  }
});

test("opening a path that does not exist fails with LINK_OPEN_FAILED", async () => {
  const tmp = await makeTempDir();
  try {
    const link = new SerialportLink({ path: join(tmp.dir, "nope") });
    try {
      await link.open();
      assert.unreachable();
    } catch (err) {
      assert.is((err as { code?: string }).code, "LINK_OPEN_FAILED");
    }
  } finally {
    await tmp.remove();
  }
});

test.run();
