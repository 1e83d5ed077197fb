import { test } from "uvu";
import * as assert from "uvu/assert";
import { BytePacer } from "./byte-pacer.js";
import { VirtualEsp32, type Esp32Mode } from "./virtual-esp32.js";

async function modeAfter(board: VirtualEsp32, steps: { dtr?: boolean; rts?: boolean; waitMs?: number }[]): Promise<Esp32Mode> {
  for (const s of steps) {
    const { waitMs, ...lines } = s;
    board.setSignals(lines);
    if (waitMs) await new Promise((r) => setTimeout(r, waitMs));
  }
  // Longer than the strap settle window, so the boot decision has been made.
  await new Promise((r) => setTimeout(r, 200));
  return board.mode;
}

test("ClassicReset as esptool-js sends it (DTR and RTS as separate SET-CONTROLs) → download mode", async () => {
  const board = new VirtualEsp32({ id: "sig-0" });
  let text = "";
  board.onTransmit((d) => (text += Buffer.from(d).toString("latin1")));
  const mode = await modeAfter(board, [{ dtr: false }, { rts: true, waitMs: 100 }, { dtr: true }, { rts: false, waitMs: 50 }, { dtr: false }]);
  assert.is(mode, "download");
  assert.match(text, /^ets Jun {2}8 2016 00:22:57\r\n\r\nrst:0x1 \(POWERON_RESET\),boot:0x3 \(DOWNLOAD_BOOT\(UART0\/UART1\/SDIO_REI_REO_V2\)\)\r\nwaiting for download\r\n$/);
  board.dispose();
});

test("UnixTightReset (both lines per step) → download mode", async () => {
  const board = new VirtualEsp32({ id: "sig-1" });
  const steps = [
    { dtr: false, rts: false },
    { dtr: true, rts: true },
    { dtr: false, rts: true, waitMs: 100 },
    { dtr: true, rts: false, waitMs: 50 },
    { dtr: false, rts: false },
  ];
  assert.is(await modeAfter(board, steps), "download");
  board.dispose();
});

test("an RTS pulse with DTR released boots normally; both lines asserted is not a reset", async () => {
  const board = new VirtualEsp32({ id: "sig-2" });
  let text = "";
  board.onTransmit((d) => (text += Buffer.from(d).toString("latin1")));
  assert.is(await modeAfter(board, [{ rts: true, waitMs: 100 }, { rts: false }]), "app");
  assert.match(text, /rst:0x1 \(POWERON_RESET\),boot:0x13 \(SPI_FAST_FLASH_BOOT\)/);
  board.reset("download");
  assert.is(await modeAfter(board, [{ dtr: true, rts: true }]), "download", "DTR+RTS together keep EN high");
  board.dispose();
});

test("each board gets its own MAC; an explicit MAC is kept; a bad one is refused with advice", () => {
  const a = new VirtualEsp32({ id: "x-0" });
  const b = new VirtualEsp32({ id: "x-1" });
  assert.is.not(a.mac, b.mac);
  assert.is(new VirtualEsp32({ mac: "A0:B0:11:22:33:44" }).mac, "a0:b0:11:22:33:44");
  assert.throws(() => new VirtualEsp32({ mac: "a0:b0" }), /six hex pairs/);
  assert.throws(() => new VirtualEsp32({ flashSize: 3 * 1024 * 1024 }), /power of two/);
});

test("paced delivery keeps order, is never faster than baud/10, and uses the baud in force when queued", async () => {
  const got: number[] = [];
  const pacer = new BytePacer((b) => got.push(...b), true, 9600);
  const start = performance.now();
  pacer.push(new Uint8Array(600).map((_, i) => i & 0xff));
  pacer.baud = 960_000;
  pacer.push(Uint8Array.of(1, 2, 3));
  assert.is(got.length, 0, "paced bytes are not delivered synchronously");
  while (got.length < 603) await new Promise((r) => setTimeout(r, 20));
  const elapsed = performance.now() - start;
  // 600 bytes at 9600 baud need 625 ms on the wire; the later, faster bytes cannot overtake them.
  assert.ok(elapsed >= 600, `delivered in ${elapsed.toFixed(0)} ms, faster than the line allows`);
  assert.equal(got.slice(0, 600), Array.from({ length: 600 }, (_, i) => i & 0xff));
  assert.equal(got.slice(600), [1, 2, 3]);
  pacer.dispose();
});

test.run();
