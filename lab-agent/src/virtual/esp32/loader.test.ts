import { createHash, randomBytes } from "node:crypto";
import { deflateSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { OP, concatBytes, u32le, xorChecksum } from "./codec.js";
import { FlashMemory } from "./flash-memory.js";
import { Esp32Loader, type LoaderHost } from "./loader.js";
import { RegisterMap, flashIdFor, parseMac } from "./registers.js";

interface Reply {
  op: number;
  value: number;
  body: Uint8Array;
}

class Harness {
  readonly flash = new FlashMemory(4 * 1024 * 1024);
  readonly sent: Uint8Array[] = [];
  readonly bauds: number[] = [];
  reboots = 0;
  softResets = 0;
  stubStarted = 0;
  readonly loader: Esp32Loader;
  constructor() {
    const host: LoaderHost = {
      send: (p) => void this.sent.push(p),
      setBaudRate: (b) => void this.bauds.push(b),
      runUserCode: () => void this.reboots++,
      softReset: () => void this.softResets++,
      onStubStarted: () => void this.stubStarted++,
    };
    this.loader = new Esp32Loader(this.flash, new RegisterMap(parseMac("a0:b0:11:22:33:44"), flashIdFor(this.flash.size)), host);
  }
  async cmd(op: number, data: Uint8Array = new Uint8Array(0), checksum = 0): Promise<Reply[]> {
    const frame = new Uint8Array(8 + data.length);
    const v = new DataView(frame.buffer);
    frame[1] = op;
    v.setUint16(2, data.length, true);
    v.setUint32(4, checksum, true);
    frame.set(data, 8);
    this.sent.length = 0;
    await this.loader.handleFrame(frame);
    // Raw packets (OHAI, READ_FLASH data) are shorter than a response header or not responses at all.
    return this.sent.map((p) => (p.length >= 8 ? { op: p[1] ?? -1, value: new DataView(p.buffer, p.byteOffset).getUint32(4, true), body: p.subarray(8) } : { op: -1, value: -1, body: p }));
  }
  async data(op: number, seq: number, payload: Uint8Array, badChecksum = false): Promise<Reply[]> {
    const sum = xorChecksum(payload) ^ (badChecksum ? 0xff : 0);
    return this.cmd(op, concatBytes(u32le(payload.length, seq, 0, 0), payload), sum);
  }
  async readReg(addr: number): Promise<number> {
    const [r] = await this.cmd(OP.READ_REG, u32le(addr));
    return r?.value ?? -1;
  }
  async startStub(): Promise<void> {
    await this.cmd(OP.MEM_BEGIN, u32le(16, 1, 0x1800, 0x400a8000));
    await this.data(OP.MEM_DATA, 0, new Uint8Array(16).fill(0x11));
    await this.cmd(OP.MEM_END, u32le(0, 0x400a902c));
  }
}

const SYNC = Uint8Array.of(0x07, 0x07, 0x12, 0x20, ...new Array<number>(32).fill(0x55));
const ok = (r: Reply | undefined, statusLen: number) => r !== undefined && r.body.length === statusLen && r.body.every((b) => b === 0);

test("ROM: SYNC gets 8 replies with a non-zero value and 4 zero status bytes", async () => {
  const h = new Harness();
  const replies = await h.cmd(OP.SYNC, SYNC);
  assert.is(replies.length, 8);
  assert.ok(replies.every((r) => r.op === OP.SYNC && r.value !== 0 && ok(r, 4)));
});

test("ROM: GET_SECURITY_INFO and unknown opcodes get the foreign-opcode 'invalid message' frame 8 times", async () => {
  const h = new Harness();
  for (const op of [OP.GET_SECURITY_INFO, 0x77, OP.ERASE_FLASH]) {
    const replies = await h.cmd(op);
    assert.is(replies.length, 8);
    assert.ok(replies.every((r) => r.op !== op && Array.from(r.body).join() === "1,5,0,0"));
  }
});

test("registers: chip magic, eFuse MAC words, UART divider, and the SPI RDID user command", async () => {
  const h = new Harness();
  assert.is(await h.readReg(0x40001000), 0x00f01d83);
  const w1 = await h.readReg(0x3ff5a004);
  const w2 = await h.readReg(0x3ff5a008);
  const mac = [(w2 >> 8) & 0xff, w2 & 0xff, (w1 >>> 24) & 0xff, (w1 >> 16) & 0xff, (w1 >> 8) & 0xff, w1 & 0xff];
  assert.equal(mac, [0xa0, 0xb0, 0x11, 0x22, 0x33, 0x44]);
  assert.is(Math.round((115200 * ((await h.readReg(0x3ff40014)) & 0xfffff)) / 1e6), 40);
  // The RDID sequence esptool-js performs (§A.10).
  const reg = (a: number, v: number) => h.cmd(OP.WRITE_REG, u32le(a, v, 0xffffffff, 0));
  await reg(0x3ff4202c, 23);
  await reg(0x3ff4201c, 0x90000000);
  await reg(0x3ff42024, 0x7000009f);
  await reg(0x3ff42080, 0);
  await reg(0x3ff42000, 0x00040000);
  assert.is((await h.readReg(0x3ff42000)) & (1 << 18), 0, "USR bit clears when done");
  const id = await h.readReg(0x3ff42080);
  assert.is((id >> 16) & 0xff, 0x16, "4 MiB capacity code");
});

test("ROM: bad checksum on MEM_DATA → status 01 07; MEM_BEGIN outside RAM → 01 0F", async () => {
  const h = new Harness();
  const [bad] = await h.cmd(OP.MEM_BEGIN, u32le(16, 1, 0x1800, 0x10000000));
  assert.equal(Array.from(bad?.body ?? []), [1, 0x0f, 0, 0]);
  await h.cmd(OP.MEM_BEGIN, u32le(16, 1, 0x1800, 0x3ffe0000));
  const [r] = await h.data(OP.MEM_DATA, 0, new Uint8Array(16).fill(3), true);
  assert.equal(Array.from(r?.body ?? []), [1, 0x07, 0, 0]);
});

test("MEM_END(0) answers, then sends OHAI, then behaves as the stub (SYNC value 0, 2 status bytes)", async () => {
  const h = new Harness();
  await h.cmd(OP.MEM_BEGIN, u32le(16, 1, 0x1800, 0x400a8000));
  await h.data(OP.MEM_DATA, 0, new Uint8Array(16).fill(0x11));
  h.sent.length = 0;
  const replies = await h.cmd(OP.MEM_END, u32le(0, 0x400a902c));
  assert.is(replies[0]?.op, OP.MEM_END);
  assert.is(new TextDecoder().decode(h.sent[1]), "OHAI");
  assert.is(h.stubStarted, 1);
  assert.is(h.loader.mode, "stub");
  const sync = await h.cmd(OP.SYNC, SYNC);
  assert.is(sync.length, 8);
  assert.ok(sync.every((r) => r.value === 0 && ok(r, 2)));
});

test("stub: compressed write across blocks inflates one zlib stream; MD5 is 16 raw bytes; ROM MD5 is 32 hex chars", async () => {
  const h = new Harness();
  const image = new Uint8Array(randomBytes(100_000));
  const z = deflateSync(image, { level: 9 });
  const romMd5 = await h.cmd(OP.SPI_FLASH_MD5, u32le(0x10000, image.length, 0, 0));
  assert.is(new TextDecoder().decode(romMd5[0]?.body.subarray(0, 32)), createHash("md5").update(new Uint8Array(image.length).fill(0xff)).digest("hex"));
  await h.startStub();
  const blocks = Math.ceil(z.length / 0x4000);
  assert.ok(ok((await h.cmd(OP.FLASH_DEFL_BEGIN, u32le(image.length, blocks, 0x4000, 0x10000)))[0], 2));
  for (let i = 0; i < blocks; i++) {
    const [r] = await h.data(OP.FLASH_DEFL_DATA, i, z.subarray(i * 0x4000, (i + 1) * 0x4000));
    assert.ok(ok(r, 2), `block ${i}`);
  }
  assert.ok(ok((await h.cmd(OP.FLASH_DEFL_END, u32le(1)))[0], 2));
  assert.is(h.reboots, 0, "DEFL_END(1) stays in the stub");
  assert.is(h.softResets, 0);
  const [md5] = await h.cmd(OP.SPI_FLASH_MD5, u32le(0x10000, image.length, 0, 0));
  assert.equal(Buffer.from(md5?.body.subarray(0, 16) ?? []), createHash("md5").update(image).digest());
  assert.ok(Buffer.from(h.flash.read(0x10000, image.length)).equals(Buffer.from(image)));
});

test("stub: bad checksum → C1 00, corrupt deflate → C7 00, write past the end → error, unknown op → C3 00", async () => {
  const h = new Harness();
  await h.startStub();
  await h.cmd(OP.FLASH_BEGIN, u32le(0x1000, 1, 0x1000, 0x0));
  const [bad] = await h.data(OP.FLASH_DATA, 0, new Uint8Array(0x1000).fill(1), true);
  assert.equal(Array.from(bad?.body ?? []), [0xc1, 0x00]);
  await h.cmd(OP.FLASH_DEFL_BEGIN, u32le(0x1000, 1, 0x4000, 0x0));
  const [corrupt] = await h.data(OP.FLASH_DEFL_DATA, 0, Uint8Array.of(0x78, 0xda, 0xff, 0xff, 0xff, 0x00, 0x12));
  assert.equal(Array.from(corrupt?.body ?? []), [0xc7, 0x00]);
  const [past] = await h.cmd(OP.FLASH_BEGIN, u32le(0x2000, 1, 0x2000, 4 * 1024 * 1024 - 0x1000));
  assert.is(past?.body[0] !== 0, true);
  const [unknown] = await h.cmd(0x7e);
  assert.equal(Array.from(unknown?.body ?? []), [0xc3, 0x00]);
});

test("stub: ERASE_REGION, READ_FLASH with acks and the final MD5 packet; CHANGE_BAUDRATE after its reply", async () => {
  const h = new Harness();
  await h.startStub();
  h.flash.load(0x3000, Uint8Array.of(1, 2, 3, 4));
  assert.ok(ok((await h.cmd(OP.ERASE_REGION, u32le(0x2000, 0x1000)))[0], 2));
  const replies = await h.cmd(OP.READ_FLASH, u32le(0x3000, 0x2000, 0x1000, 1));
  assert.is(replies.length, 2, "reply + one data packet: max_unacked is 1");
  assert.equal(Array.from(h.sent[1]?.subarray(0, 4) ?? []), [1, 2, 3, 4]);
  h.sent.length = 0;
  await h.loader.handleFrame(u32le(0x1000));
  assert.is(h.sent.length, 1, "second data packet after the first ack");
  h.sent.length = 0;
  await h.loader.handleFrame(u32le(0x2000));
  assert.equal(Buffer.from(h.sent[0] ?? []), h.flash.md5(0x3000, 0x2000), "MD5 packet once all is acked");
  const [baud] = await h.cmd(OP.CHANGE_BAUDRATE, u32le(921600, 115200));
  assert.ok(ok(baud, 2));
  assert.equal(h.bauds, [921600]);
});

test("ROM (no stub, as esptool.py --no-stub): FLASH_BEGIN/DATA with 0x400 blocks, 5th word accepted, FLASH_END leaves the loader", async () => {
  const h = new Harness();
  const image = new Uint8Array(randomBytes(0x900));
  const blocks = Math.ceil(image.length / 0x400);
  assert.ok(ok((await h.cmd(OP.FLASH_BEGIN, u32le(image.length, blocks, 0x400, 0x8000, 0)))[0], 4));
  for (let i = 0; i < blocks; i++) {
    const block = new Uint8Array(0x400).fill(0xff);
    block.set(image.subarray(i * 0x400, (i + 1) * 0x400));
    assert.ok(ok((await h.data(OP.FLASH_DATA, i, block))[0], 4), `block ${i}`);
  }
  const [md5] = await h.cmd(OP.SPI_FLASH_MD5, u32le(0x8000, image.length, 0, 0));
  assert.is(new TextDecoder().decode(md5?.body.subarray(0, 32)), createHash("md5").update(image).digest("hex"));
  assert.equal(Array.from(md5?.body.subarray(32) ?? []), [0, 0, 0, 0]);
  const [seq] = await h.data(OP.FLASH_DATA, 7, new Uint8Array(0x400));
  assert.equal(Array.from(seq?.body ?? []), [1, 0x01, 0, 0], "out-of-order block is refused");
  await h.cmd(OP.FLASH_END, u32le(1));
  assert.is(h.reboots, 1, "ROM FLASH_END(1): run user code");
  assert.is(h.softResets, 0);
});

test("FLASH_END(0) is a software reset back into the ROM loader, after its reply (esptool --after no-reset from the stub)", async () => {
  for (const stub of [false, true]) {
    const h = new Harness();
    await h.cmd(OP.SYNC, SYNC);
    if (stub) await h.startStub();
    await h.cmd(OP.FLASH_BEGIN, u32le(0, 0, 0x400, 0, 0));
    const [end] = await h.cmd(OP.FLASH_END, u32le(0));
    assert.is(end?.op, OP.FLASH_END, "the reply is sent before the reset");
    assert.equal([h.softResets, h.reboots], [1, 0], stub ? "stub" : "ROM");
  }
});

test("ROM: compressed write with the size rounded up to whole blocks (esptool.py ROM semantics)", async () => {
  const h = new Harness();
  const image = new Uint8Array(randomBytes(3000));
  const z = deflateSync(image, { level: 9 });
  const blocks = Math.ceil(z.length / 0x400);
  await h.cmd(OP.FLASH_DEFL_BEGIN, u32le(blocks * 0x400 > image.length ? Math.ceil(image.length / 0x400) * 0x400 : image.length, blocks, 0x400, 0x20000));
  for (let i = 0; i < blocks; i++) assert.ok(ok((await h.data(OP.FLASH_DEFL_DATA, i, z.subarray(i * 0x400, (i + 1) * 0x400)))[0], 4));
  const [md5] = await h.cmd(OP.SPI_FLASH_MD5, u32le(0x20000, image.length, 0, 0));
  assert.is(new TextDecoder().decode(md5?.body.subarray(0, 32)), createHash("md5").update(image).digest("hex"));
});

test.run();
