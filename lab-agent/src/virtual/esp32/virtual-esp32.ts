import { createHash } from "node:crypto";
import type { Disposable, ModemLines, SerialDevice } from "../../links/serial-link.js";
import { BytePacer } from "./byte-pacer.js";
import { bootFirmware, type RunningFirmware } from "./firmware-bridge.js";
import { loadScenario, type ScenarioManifest, type ScenarioSpec } from "./firmware/index.js";
import { FlashMemory } from "./flash-memory.js";
import { Esp32Loader } from "./loader.js";
import { RegisterMap, flashIdFor, formatMac, parseMac } from "./registers.js";
import { RESET_REASONS, romBanner, type ResetReason } from "./reset-reasons.js";
import { SlipDecoder, slipEncode } from "./slip.js";

export interface VirtualEsp32Options {
  id?: string;
  /** `aa:bb:cc:dd:ee:ff`; default derived from `id` so every board gets its own. */
  mac?: string;
  /** Bytes; default 4 MiB. */
  flashSize?: number;
  /** A parsed scenario or the name of a built-in one (`idle`, `logger`, `unity`, …). */
  scenario?: ScenarioSpec | string;
  manifest?: ScenarioManifest;
  /** Deliver bytes no faster than the current baud rate allows. */
  pace?: boolean;
}

/** "reset" = held in reset (EN low) or unplugged. */
export type Esp32Mode = "download" | "stub" | "app" | "reset";

const ROM_BAUD = 115200;
/**
 * EN has an RC delay on real boards, so the chip samples GPIO0 a little after EN rises. Clients
 * change DTR and RTS in two steps (over RFC 2217, two round trips), passing through "both
 * asserted"; a strap seen low anywhere in this window counts.
 */
const STRAP_SETTLE_MS = 20;
const DEFAULT_FLASH_SIZE = 4 * 1024 * 1024;

let boardCounter = 0;

/**
 * A virtual ESP32 on the device side of a serial connection: the ROM loader (and stub) in download
 * mode, the simulated bootloader + app otherwise, reset and strapping through DTR/RTS (§A.2) or the
 * control API for links without modem lines.
 */
export class VirtualEsp32 implements SerialDevice {
  readonly id: string;
  readonly mac: string;
  readonly flashMemory: FlashMemory;
  readonly scenario: ScenarioSpec | undefined;
  readonly manifest: ScenarioManifest | undefined;
  private readonly regs: RegisterMap;
  private readonly tx: BytePacer;
  private readonly rx: BytePacer;
  private readonly decoder = new SlipDecoder();
  private readonly transmitListeners = new Set<(data: Uint8Array) => void>();
  private readonly unplugListeners = new Set<() => void>();
  private readonly modeListeners = new Set<(mode: Esp32Mode) => void>();
  private loader: Esp32Loader | null = null;
  private firmware: RunningFirmware | null = null;
  private work: Promise<void> = Promise.resolve();
  /** Bumped on every reset so output from a previous life of the chip is dropped. */
  private epoch = 0;
  private mode_: Esp32Mode = "reset";
  private lines = { dtr: false, rts: false };
  private strapTimer: NodeJS.Timeout | undefined;
  private strapLowSeen = false;
  private unplugged = false;
  private disposed = false;
  /** MEM_END(0) count over the board's life: lets tests see that the stub was uploaded. */
  stubStarts = 0;

  constructor(opts: VirtualEsp32Options = {}) {
    this.id = opts.id ?? `esp32-${boardCounter++}`;
    const macBytes = opts.mac !== undefined ? parseMac(opts.mac) : macFromId(this.id);
    this.mac = formatMac(macBytes);
    this.flashMemory = new FlashMemory(opts.flashSize ?? DEFAULT_FLASH_SIZE);
    this.regs = new RegisterMap(macBytes, flashIdFor(this.flashMemory.size));
    this.scenario = resolveScenario(opts.scenario);
    this.manifest = opts.manifest;
    const pace = opts.pace ?? false;
    this.tx = new BytePacer((b) => this.emit(b), pace, ROM_BAUD);
    this.rx = new BytePacer((b) => this.consume(b), pace, ROM_BAUD);
  }

  get mode(): Esp32Mode {
    return this.mode_;
  }

  /** The flash content (live view; read it, do not write). */
  get flash(): Uint8Array {
    return this.flashMemory.bytes;
  }

  get baudRate(): number {
    return this.tx.baud;
  }

  get isUnplugged(): boolean {
    return this.unplugged;
  }

  // --- SerialDevice ---------------------------------------------------------------------------

  receive(data: Uint8Array): void {
    if (this.disposed || this.unplugged) return;
    this.rx.push(data);
  }

  setSignals(lines: ModemLines): void {
    if (this.disposed || this.unplugged) return;
    const wasInReset = this.enLow();
    if (lines.dtr !== undefined) this.lines.dtr = lines.dtr;
    if (lines.rts !== undefined) this.lines.rts = lines.rts;
    const inReset = this.enLow();
    if (this.strapTimer !== undefined && this.io0Low()) this.strapLowSeen = true;
    if (inReset && !wasInReset) this.holdInReset();
    else if (!inReset && wasInReset) this.releaseReset();
  }

  setBaudRate(baud: number): void {
    if (baud <= 0) return;
    this.tx.baud = baud;
    this.rx.baud = baud;
  }

  onTransmit(listener: (data: Uint8Array) => void): Disposable {
    this.transmitListeners.add(listener);
    return { dispose: () => this.transmitListeners.delete(listener) };
  }

  // --- control API (for links without modem lines) -------------------------------------------

  /** Resets the chip as the EN button would, straight into the app or into download mode. */
  reset(mode: "run" | "download"): void {
    this.unplugged = false;
    this.boot(mode === "download", RESET_REASONS.POWERON_RESET);
  }

  /** Power off and on: same as reset("run") on an ESP32 (POWERON_RESET). */
  powerCycle(): void {
    this.reset("run");
  }

  /** The board vanishes (cable pulled): exposures close their connections. `reset()` brings it back. */
  unplug(): void {
    if (this.unplugged) return;
    this.unplugged = true;
    this.halt();
    for (const l of [...this.unplugListeners]) l();
  }

  onUnplug(listener: () => void): Disposable {
    this.unplugListeners.add(listener);
    return { dispose: () => this.unplugListeners.delete(listener) };
  }

  onModeChange(listener: (mode: Esp32Mode) => void): Disposable {
    this.modeListeners.add(listener);
    return { dispose: () => this.modeListeners.delete(listener) };
  }

  /** Writes an image straight into flash (bypassing the loader), e.g. to preload a board. */
  preload(offset: number, data: Uint8Array): void {
    this.flashMemory.load(offset, data);
  }

  dispose(): void {
    this.disposed = true;
    this.halt();
    this.tx.dispose();
    this.rx.dispose();
    this.transmitListeners.clear();
    this.unplugListeners.clear();
    this.modeListeners.clear();
  }

  // --- internals ---------------------------------------------------------------------------

  private enLow(): boolean {
    return this.lines.rts && !this.lines.dtr;
  }

  private io0Low(): boolean {
    return this.lines.dtr && !this.lines.rts;
  }

  private holdInReset(): void {
    this.halt();
  }

  private releaseReset(): void {
    this.strapLowSeen = this.io0Low();
    this.strapTimer = setTimeout(() => {
      this.strapTimer = undefined;
      if (this.disposed || this.unplugged || this.enLow()) return;
      this.boot(this.strapLowSeen || this.io0Low(), RESET_REASONS.POWERON_RESET);
    }, STRAP_SETTLE_MS);
  }

  /** Stops whatever runs and drops bytes in flight, as a chip in reset would. */
  private halt(): void {
    this.epoch++;
    if (this.strapTimer !== undefined) clearTimeout(this.strapTimer);
    this.strapTimer = undefined;
    this.firmware?.stop();
    this.firmware = null;
    this.loader = null;
    this.decoder.reset();
    this.tx.clear();
    this.rx.clear();
    this.setMode("reset");
  }

  private boot(download: boolean, reason: ResetReason): void {
    if (this.disposed) return;
    this.halt();
    const epoch = this.epoch;
    // The ROM always starts at 115200 whatever the host link was last set to.
    this.setBaudRate(ROM_BAUD);
    this.print(romBanner(reason, download));
    if (download) {
      this.loader = new Esp32Loader(this.flashMemory, this.regs, {
        send: (packet) => {
          if (epoch === this.epoch) this.tx.push(slipEncode(packet));
        },
        setBaudRate: (baud) => {
          if (epoch === this.epoch) this.setBaudRate(baud);
        },
        runUserCode: () => {
          if (epoch === this.epoch) this.tx.whenIdle(() => setImmediate(() => epoch === this.epoch && this.boot(false, RESET_REASONS.SW_RESET)));
        },
        // the reply leaves the UART first, then the CPU resets into the ROM loader again
        softReset: () => {
          if (epoch === this.epoch) this.tx.whenIdle(() => setImmediate(() => epoch === this.epoch && this.boot(true, RESET_REASONS.SW_CPU_RESET)));
        },
        onStubStarted: () => {
          if (epoch !== this.epoch) return;
          this.stubStarts++;
          this.setMode("stub");
        },
      });
      this.setMode("download");
      return;
    }
    this.setMode("app");
    const ctx = {
      flash: this.flashMemory.bytes,
      storage: this.flashMemory,
      mac: this.mac,
      resetReason: reason,
      print: (text: string) => {
        if (epoch === this.epoch) this.print(text);
      },
      reboot: (next: ResetReason) => {
        if (epoch === this.epoch) setImmediate(() => epoch === this.epoch && this.boot(false, next));
      },
      ...(this.scenario !== undefined ? { scenario: this.scenario } : {}),
      ...(this.manifest !== undefined ? { manifest: this.manifest } : {}),
    };
    this.firmware = bootFirmware(ctx);
  }

  /** Bytes that made it across the (possibly paced) wire from the host. */
  private consume(bytes: Uint8Array): void {
    if (this.mode_ === "app") {
      this.firmware?.input(bytes);
      return;
    }
    const loader = this.loader;
    if (loader === null) return;
    for (const ev of this.decoder.push(bytes)) {
      if (ev.type !== "frame") continue;
      const frame = ev.data;
      // Frames are handled strictly in order; FLASH_DEFL_DATA waits for zlib between them.
      this.work = this.work.then(() => loader.handleFrame(frame)).catch(() => undefined);
    }
  }

  private print(text: string): void {
    this.tx.push(new TextEncoder().encode(text));
  }

  private emit(bytes: Uint8Array): void {
    for (const l of [...this.transmitListeners]) l(bytes);
  }

  private setMode(mode: Esp32Mode): void {
    if (this.mode_ === mode) return;
    this.mode_ = mode;
    for (const l of [...this.modeListeners]) l(mode);
  }
}

/** Espressif OUI (24:0a:c4) plus three bytes from the board id: stable across restarts, distinct per board. */
function macFromId(id: string): Uint8Array {
  const h = createHash("sha256").update(id).digest();
  return Uint8Array.of(0x24, 0x0a, 0xc4, h[0] ?? 0, h[1] ?? 0, h[2] ?? 0);
}

function resolveScenario(scenario: ScenarioSpec | string | undefined): ScenarioSpec | undefined {
  return typeof scenario === "string" ? loadScenario(scenario) : scenario;
}
