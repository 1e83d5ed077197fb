import {
  OP,
  ROM_ERR,
  STUB_ERR,
  buildResponse,
  concatBytes,
  parseRequest,
  statusBytes,
  words,
  xorChecksum,
  type LoaderRequest,
} from "./codec.js";
import type { FlashMemory } from "./flash-memory.js";
import { FlashWriteSession, type WriteOutcome } from "./flash-write-session.js";
import type { RegisterMap } from "./registers.js";
import { ReadFlashStream } from "./read-flash-stream.js";

/** What the loader needs from the board around it. */
export interface LoaderHost {
  /** Sends one packet (unescaped; the host SLIP-encodes it). */
  send(packet: Uint8Array): void;
  /** Switches the UART speed; called after the reply that announces it has been queued. */
  setBaudRate(baud: number): void;
  /** Leaves the loader into the app: ROM FLASH_END(1) ("run user code") and the stub's RUN_USER_CODE. */
  runUserCode(): void;
  /**
   * A software reset: FLASH_END(0) ("reboot"). The chip restarts with the strapping latched at its last
   * power-on/EN reset, which put it in download mode, so it comes back in the ROM loader (this is how
   * esptool's `--after no-reset` drops from the stub back to the ROM). Called after the reply was queued;
   * the host resets once it has left the UART.
   */
  softReset(): void;
  /** MEM_END(0) jumped into an uploaded stub. */
  onStubStarted(): void;
}

const SYNC_PAYLOAD = Uint8Array.of(0x07, 0x07, 0x12, 0x20, ...new Array<number>(32).fill(0x55));
/** Any non-zero value tells clients "ROM"; 0 means "stub already running". */
const ROM_SYNC_VALUE = 0x20120707;
/** RAM the ROM lets MEM_BEGIN load into: internal SRAM, RTC fast/slow memory. */
const RAM_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x3ff80000, 0x3ff82000],
  [0x3ffae000, 0x40000000],
  [0x40070000, 0x400c2000],
  [0x50000000, 0x50002000],
];

export type LoaderMode = "rom" | "stub";

/**
 * The ESP32 ROM serial loader and, after a stub upload (MEM_END with execute flag 0), the flasher
 * stub's behaviour (PROTOCOLS.md §A.4–A.11). One frame in, zero or more packets out.
 */
export class Esp32Loader {
  private stub = false;
  private flashSession: FlashWriteSession | null = null;
  private memSession: { addr: number; size: number; blockSize: number; nextSeq: number } | null = null;
  private readStream: ReadFlashStream | null = null;

  constructor(
    private readonly flash: FlashMemory,
    private readonly regs: RegisterMap,
    private readonly host: LoaderHost,
  ) {}

  get mode(): LoaderMode {
    return this.stub ? "stub" : "rom";
  }

  /** Back to a fresh ROM after a reset. */
  reset(): void {
    this.stub = false;
    this.flashSession?.dispose();
    this.flashSession = null;
    this.memSession = null;
    this.readStream = null;
  }

  async handleFrame(frame: Uint8Array): Promise<void> {
    if (this.readStream !== null) {
      // During READ_FLASH the host answers each data packet with a bare 4-byte ack.
      if (frame.length === 4) {
        const done = this.readStream.ack(new DataView(frame.buffer, frame.byteOffset, 4).getUint32(0, true));
        if (done) this.readStream = null;
        return;
      }
      this.readStream = null;
    }
    const req = parseRequest(frame);
    // The ROM silently drops anything that is not a well-formed request.
    if (req === null) return;
    await this.dispatch(req);
  }

  private async dispatch(req: LoaderRequest): Promise<void> {
    const w = words(req.data);
    switch (req.op) {
      case OP.SYNC:
        return this.sync(req);
      case OP.READ_REG:
        return this.reply(req.op, this.regs.read(w[0] ?? 0));
      case OP.WRITE_REG:
        return this.writeReg(req);
      case OP.MEM_BEGIN:
        return this.memBegin(req.op, w);
      case OP.MEM_DATA:
        return this.memData(req);
      case OP.MEM_END:
        return this.memEnd(req.op, w);
      case OP.FLASH_BEGIN:
      case OP.FLASH_DEFL_BEGIN:
        return this.flashBegin(req.op, w);
      case OP.FLASH_DATA:
      case OP.FLASH_DEFL_DATA:
        return await this.flashData(req);
      case OP.FLASH_END:
      case OP.FLASH_DEFL_END:
        return await this.flashEnd(req.op, w);
      case OP.SPI_FLASH_MD5:
        return await this.md5(req.op, w);
      case OP.SPI_ATTACH:
      case OP.SPI_SET_PARAMS:
        return this.reply(req.op, 0);
      case OP.CHANGE_BAUDRATE:
        this.reply(req.op, 0);
        if ((w[0] ?? 0) > 0) this.host.setBaudRate(w[0] ?? 0);
        return;
      case OP.READ_FLASH_SLOW:
        return this.stub ? this.unknown(req.op) : this.readFlashSlow(req.op, w);
      case OP.ERASE_FLASH:
        if (!this.stub) return this.unknown(req.op);
        await this.settle();
        this.flash.eraseAll();
        return this.reply(req.op, 0);
      case OP.ERASE_REGION:
        return this.stub ? await this.eraseRegion(req.op, w) : this.unknown(req.op);
      case OP.READ_FLASH:
        return this.stub ? await this.readFlash(req.op, w) : this.unknown(req.op);
      case OP.RUN_USER_CODE:
        if (!this.stub) return this.unknown(req.op);
        this.host.runUserCode();
        return;
      default:
        // GET_SECURITY_INFO is not in the ESP32 ROM, so it lands here too (§A.9).
        return this.unknown(req.op);
    }
  }

  private sync(req: LoaderRequest): void {
    if (req.data.length !== SYNC_PAYLOAD.length || !req.data.every((b, i) => b === SYNC_PAYLOAD[i])) return;
    const value = this.stub ? 0 : ROM_SYNC_VALUE;
    // Clients expect the reply 8 times and fail the attempt with fewer (§A.8).
    for (let i = 0; i < 8; i++) this.reply(req.op, value);
  }

  private writeReg(req: LoaderRequest): void {
    if (req.data.length === 0 || req.data.length % 16 !== 0) return this.fail(req.op, ROM_ERR.INVALID_PARAM, STUB_ERR.BAD_DATA_LEN);
    const w = words(req.data);
    for (let i = 0; i + 3 < w.length; i += 4) this.regs.write(w[i] ?? 0, w[i + 1] ?? 0, w[i + 2] ?? 0xffffffff);
    this.reply(req.op, 0);
  }

  private memBegin(op: number, w: number[]): void {
    const [size = 0, , blockSize = 0, addr = 0] = w;
    if (w.length < 4) return this.fail(op, ROM_ERR.INVALID_PARAM, STUB_ERR.BAD_DATA_LEN);
    if (!RAM_RANGES.some(([lo, hi]) => addr >= lo && addr + size <= hi)) return this.fail(op, ROM_ERR.INVALID_RAM_ADDR, STUB_ERR.BAD_DATA_LEN);
    this.memSession = { addr, size, blockSize, nextSeq: 0 };
    this.reply(op, 0);
  }

  private memData(req: LoaderRequest): void {
    const payload = this.dataPayload(req);
    if (payload === null) return;
    const s = this.memSession;
    if (s === null) return this.fail(req.op, ROM_ERR.INVALID_PARAM, STUB_ERR.NOT_IN_FLASH_MODE);
    const seq = words(req.data)[1] ?? 0;
    if (seq !== s.nextSeq || seq * s.blockSize + payload.length > s.size) return this.fail(req.op, ROM_ERR.INVALID_RAM_SIZE, STUB_ERR.TOO_MUCH_DATA);
    s.nextSeq++;
    this.reply(req.op, 0);
  }

  private memEnd(op: number, w: number[]): void {
    const execute = (w[0] ?? 1) === 0;
    this.reply(op, 0);
    if (!execute || this.stub) return;
    // Jumping to the uploaded entry starts the stub, which announces itself once (§A.11).
    this.stub = true;
    this.memSession = null;
    this.host.send(new TextEncoder().encode("OHAI"));
    this.host.onStubStarted();
  }

  private flashBegin(op: number, w: number[]): void {
    if (w.length < 4) return this.fail(op, ROM_ERR.INVALID_PARAM, STUB_ERR.BAD_DATA_LEN);
    const [size = 0, numBlocks = 0, blockSize = 0, offset = 0] = w;
    const compressed = op === OP.FLASH_DEFL_BEGIN;
    this.flashSession?.dispose();
    this.flashSession = null;
    if (offset + size > this.flash.size) return this.fail(op, ROM_ERR.FLASH_WRITE, STUB_ERR.TOO_MUCH_DATA);
    this.flash.eraseRange(offset, size);
    // Plain writes pad the last block with 0xFF, so they may run past the announced size.
    const capacity = compressed ? size : Math.max(size, numBlocks * blockSize);
    this.flashSession = new FlashWriteSession(this.flash, offset, capacity, blockSize, compressed);
    this.reply(op, 0);
  }

  private async flashData(req: LoaderRequest): Promise<void> {
    const payload = this.dataPayload(req);
    if (payload === null) return;
    const session = this.flashSession;
    const compressed = req.op === OP.FLASH_DEFL_DATA;
    if (session === null || session.compressed !== compressed) return this.fail(req.op, ROM_ERR.INVALID_PARAM, STUB_ERR.NOT_IN_FLASH_MODE);
    const outcome = await session.write(words(req.data)[1] ?? 0, payload);
    this.answerWrite(req.op, outcome);
  }

  private answerWrite(op: number, outcome: WriteOutcome): void {
    switch (outcome) {
      case "ok":
        return this.reply(op, 0);
      case "out-of-range":
      case "too-much-data":
        return this.fail(op, ROM_ERR.FLASH_WRITE, STUB_ERR.TOO_MUCH_DATA);
      case "bad-sequence":
        return this.fail(op, ROM_ERR.INVALID_PARAM, STUB_ERR.BAD_DATA_LEN);
      case "inflate-error":
        return this.fail(op, ROM_ERR.DEFLATE_FAILED, STUB_ERR.INFLATE_ERROR);
    }
  }

  private async flashEnd(op: number, w: number[]): Promise<void> {
    const ok = await this.settle();
    if (!ok) return this.fail(op, ROM_ERR.DEFLATE_FAILED, STUB_ERR.INFLATE_ERROR);
    this.reply(op, 0);
    const reboot = (w[0] ?? 1) === 0;
    // 0 "reboot": a software reset, back into the ROM loader (the strap latched download mode).
    // 1 "run user code": the ROM jumps to the app; the stub stays, ready for the next command.
    if (reboot) this.host.softReset();
    else if (!this.stub) this.host.runUserCode();
  }

  private async md5(op: number, w: number[]): Promise<void> {
    const [addr = 0, size = 0] = w;
    await this.settle();
    if (!this.flash.contains(addr, size)) return this.fail(op, ROM_ERR.FLASH_READ_LENGTH, STUB_ERR.BAD_DATA_LEN);
    const digest = this.flash.md5(addr, size);
    const body = this.stub ? new Uint8Array(digest) : new TextEncoder().encode(digest.toString("hex"));
    this.replyWith(op, 0, body, 0);
  }

  private readFlashSlow(op: number, w: number[]): void {
    const [addr = 0, size = 0] = w;
    if (size > 64 || !this.flash.contains(addr, size)) return this.fail(op, ROM_ERR.FLASH_READ_LENGTH, STUB_ERR.BAD_DATA_LEN);
    const block = new Uint8Array(64);
    block.set(this.flash.read(addr, size));
    this.replyWith(op, 0, block, 0);
  }

  private async eraseRegion(op: number, w: number[]): Promise<void> {
    const [offset = 0, size = 0] = w;
    await this.settle();
    if (offset % 0x1000 !== 0 || size % 0x1000 !== 0) return this.fail(op, ROM_ERR.INVALID_PARAM, STUB_ERR.BAD_DATA_LEN);
    if (!this.flash.eraseRange(offset, size)) return this.fail(op, ROM_ERR.INVALID_PARAM, STUB_ERR.TOO_MUCH_DATA);
    this.reply(op, 0);
  }

  private async readFlash(op: number, w: number[]): Promise<void> {
    const [offset = 0, length = 0, packetSize = 0, maxUnacked = 0] = w;
    await this.settle();
    if (w.length < 4 || packetSize === 0 || maxUnacked === 0) return this.fail(op, ROM_ERR.INVALID_PARAM, STUB_ERR.BAD_DATA_LEN);
    if (!this.flash.contains(offset, length)) return this.fail(op, ROM_ERR.FLASH_READ_LENGTH, STUB_ERR.TOO_MUCH_DATA);
    this.reply(op, 0);
    const stream = new ReadFlashStream(this.flash, offset, length, packetSize, maxUnacked, (p) => this.host.send(p));
    if (!stream.start()) this.readStream = stream;
  }

  /** Finishes any compressed write still in flight before reading flash back. */
  private async settle(): Promise<boolean> {
    const session = this.flashSession;
    if (session === null) return true;
    this.flashSession = null;
    return await session.finish();
  }

  /** Checks the 16-byte data header and XOR checksum of a *_DATA request; replies itself on error. */
  private dataPayload(req: LoaderRequest): Uint8Array | null {
    const w = words(req.data);
    const declared = w[0] ?? 0;
    const payload = req.data.subarray(16);
    if (req.data.length < 16 || payload.length !== declared) {
      this.fail(req.op, ROM_ERR.INVALID_PARAM, STUB_ERR.BAD_DATA_LEN);
      return null;
    }
    if (xorChecksum(payload) !== (req.checksum & 0xff)) {
      this.fail(req.op, ROM_ERR.CHECKSUM, STUB_ERR.BAD_CHECKSUM);
      return null;
    }
    return payload;
  }

  /** The ESP32 ROM's answer to an opcode it does not know: a foreign-opcode error frame, 8 times. */
  private unknown(op: number): void {
    if (this.stub) return this.replyWith(op, 0, new Uint8Array(0), STUB_ERR.INVALID_COMMAND);
    const frame = buildResponse(0x00, 0, statusBytes(false, ROM_ERR.INVALID_MESSAGE));
    for (let i = 0; i < 8; i++) this.host.send(frame);
  }

  private fail(op: number, romError: number, stubError: number): void {
    this.replyWith(op, 0, new Uint8Array(0), this.stub ? stubError : romError);
  }

  private reply(op: number, value: number): void {
    this.replyWith(op, value, new Uint8Array(0), 0);
  }

  private replyWith(op: number, value: number, body: Uint8Array, error: number): void {
    this.host.send(buildResponse(op, value, concatBytes(body, statusBytes(this.stub, error))));
  }
}
