import { createHash } from "node:crypto";
import { LabError } from "@hil/contracts";
import { ESPLoader, Transport, type IEspLoaderTerminal } from "esptool-js";
import type { ChipName } from "../../esp32-image/chips.js";
import type { SerialLink } from "../../links/serial-link.js";
import { normalizeMd5, writeCompressed } from "./compressed-writer.js";
import { assertImagesFlashable, type FlashImage } from "./image-checks.js";
import { LinkGuard } from "./link-guard.js";
import { mayHoldApp, planOtadataReset, readBoardTable, tableInImages, type OtadataMode, type OtadataOutcome } from "./otadata-reset.js";
import { ProfileResetStrategy } from "./profile-reset-strategy.js";
import { ResetSequencer, type ResetMode } from "./reset-sequencer.js";
import { WebSerialPortAdapter, type WebSerialInfo } from "./web-serial-port-adapter.js";

/** The parts of a DeviceProfile (@hil/device-profiles) this driver reads; a DeviceProfile fits. */
export interface Esp32FlashProfile {
  id?: string;
  chip?: ChipName;
  serial?: { baud: number; flashBaud: number };
  reset?: { download: string; run: string };
  flash?: { size: number; bootloaderOffset: number; appOffset: number; partitionTableOffset?: number };
}

export interface Esp32FlashDriverOptions {
  link: SerialLink;
  profile: Esp32FlashProfile;
  /** Lowercase "aa:bb:cc:dd:ee:ff": the board must report this MAC or nothing is written. */
  expectedMac?: string;
  /** For links without modem lines (virtual board control API, a relay). */
  enterDownloadMode?: () => Promise<void>;
  enterRunMode?: () => Promise<void>;
  logger?: (msg: string) => void;
  /** What the adapter reports as USB ids (esptool-js picks its USB-JTAG path from them). */
  usbInfo?: WebSerialInfo;
  /** Reset+sync rounds before giving up; default 7 (as esptool). */
  connectAttempts?: number;
}

export interface FlashProgress {
  image: number;
  written: number;
  total: number;
}

export interface FlashRunOptions {
  onProgress?: (p: FlashProgress) => void;
  signal?: AbortSignal;
  /** Compare MD5s first and leave identical regions alone; default true. */
  skipUnchanged?: boolean;
  eraseAll?: boolean;
  /** Check each written region's MD5; default true. */
  verify?: boolean;
  /** Override the profile's serial.flashBaud. */
  baudRate?: number;
  /**
   * "reset": when an app goes to an app partition of a table with otadata (the table among the images, else
   * the board's), blank otadata as well, as `idf.py flash` does; "keep": leave it. Absent: not considered.
   */
  otadata?: OtadataMode;
}

export interface FlashImageReport {
  offset: number;
  size: number;
  md5: string;
  skipped: boolean;
  seconds: number;
  name?: string;
}

export interface FlashReport {
  chip: string;
  mac: string;
  images: FlashImageReport[];
  bytesWritten: number;
  seconds: number;
  /** True when every image was already on the board ("already flashed"). */
  alreadyFlashed: boolean;
  /** What happened to otadata, when the run asked (FlashRunOptions.otadata). */
  otadata?: OtadataOutcome;
}

interface Session {
  loader: ESPLoader;
  guard: LinkGuard;
  chip: string;
  mac: string;
}

const ROM_BAUD = 115200;
const DEFAULT_FLASH: NonNullable<Esp32FlashProfile["flash"]> = { size: 4 * 1024 * 1024, bootloaderOffset: 0x1000, appOffset: 0x10000 };
const DEFAULT_TABLE_OFFSET = 0x8000;
const DEFAULT_RESET = { download: "D0|R1|W100|D1|R0|W50|D0", run: "D0|R1|W100|R0" };

/**
 * Flashes an ESP32 through the real esptool-js over any SerialLink: images are checked before the
 * board is touched, the identity (chip, MAC) is re-read through the loader, unchanged regions are
 * skipped by MD5, the rest is written compressed and verified, and the board is reset into its app.
 */
export class Esp32FlashDriver {
  private readonly link: SerialLink;
  private readonly profile: Esp32FlashProfile;
  private readonly log: (msg: string) => void;
  private readonly sequencer: ResetSequencer;

  constructor(private readonly opts: Esp32FlashDriverOptions) {
    this.link = opts.link;
    this.profile = opts.profile;
    this.log = opts.logger ?? (() => undefined);
    const hooks = {
      ...(opts.enterDownloadMode ? { enterDownloadMode: opts.enterDownloadMode } : {}),
      ...(opts.enterRunMode ? { enterRunMode: opts.enterRunMode } : {}),
    };
    this.sequencer = new ResetSequencer(this.link, this.profile.reset ?? DEFAULT_RESET, hooks, this.log);
  }

  async flash(images: FlashImage[], opts: FlashRunOptions = {}): Promise<FlashReport> {
    const started = Date.now();
    const flashFacts = this.profile.flash ?? DEFAULT_FLASH;
    // Refuse bad images before opening the link: a refused flash leaves the board untouched.
    assertImagesFlashable(images, { chip: this.profile.chip ?? "esp32", flashSize: flashFacts.size, bootloaderOffset: flashFacts.bootloaderOffset, appOffset: flashFacts.appOffset });
    const padded = images.map((img) => padTo4(img.data));
    const md5s = padded.map((d) => md5Hex(d));
    const skipUnchanged = (opts.skipUnchanged ?? true) && !opts.eraseAll;

    // A stub that answers MEM_END late (esptool-js allows 200 ms; a loaded host can miss that) or a
    // baud switch that does not take is worth one fresh session; a failure once writing began is not.
    const progress = { writing: false };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.flashSession(images, padded, md5s, skipUnchanged, started, progress, opts);
      } catch (err) {
        if (attempt >= 2 || progress.writing || !(err instanceof LabError) || err.code !== "FLASH_FAILED") throw err;
        this.log(`starting the flasher stub failed (${err.message}); retrying once with a fresh reset`);
      }
    }
  }

  private flashSession(
    given: FlashImage[],
    givenPadded: Uint8Array[],
    givenMd5s: string[],
    skipUnchanged: boolean,
    started: number,
    progress: { writing: boolean },
    opts: FlashRunOptions,
  ): Promise<FlashReport> {
    return this.withSession("flash", opts.signal, opts.baudRate, async (s) => {
      const otadata = await this.planOtadata(s, given, opts);
      const extra = otadata && "image" in otadata ? [otadata.image] : [];
      const images = [...given, ...extra];
      const padded = [...givenPadded, ...extra.map((img) => img.data)];
      const md5s = [...givenMd5s, ...extra.map((img) => md5Hex(img.data))];
      const reports: FlashImageReport[] = images.map((img, i) => ({
        offset: img.offset,
        size: img.data.length,
        md5: md5s[i]!,
        skipped: false,
        seconds: 0,
        ...(img.name === undefined ? {} : { name: img.name }),
      }));
      if (skipUnchanged) {
        // The ROM answers SPI_FLASH_MD5 too, so an unchanged board costs no stub upload at all.
        for (let i = 0; i < images.length; i++) {
          const onBoard = normalizeMd5(await s.guard.race(s.loader.flashMd5sum(images[i]!.offset, padded[i]!.length)));
          if (onBoard === md5s[i]) {
            reports[i]!.skipped = true;
            this.log(`0x${images[i]!.offset.toString(16)}: board already holds these ${images[i]!.data.length} bytes (MD5 ${md5s[i]}), skipping`);
          }
        }
      }
      const todo = images.map((_, i) => i).filter((i) => !reports[i]!.skipped);
      if (todo.length === 0) {
        this.log("already flashed: every image matches the board, nothing written");
      } else {
        await this.write(s, todo, images, padded, reports, opts, progress);
      }
      const bytesWritten = todo.reduce((n, i) => n + images[i]!.data.length, 0);
      const report: FlashReport = { chip: s.chip, mac: s.mac, images: reports, bytesWritten, seconds: (Date.now() - started) / 1000, alreadyFlashed: todo.length === 0 };
      if (otadata) report.otadata = "image" in otadata ? otadataDone(otadata.image, reports[reports.length - 1]!.skipped) : otadata.outcome;
      if (report.otadata) this.log(`otadata: ${report.otadata.summary}`);
      return report;
    });
  }

  /**
   * The otadata blank this flash adds, or why none: decided inside the session because the partition table
   * may have to come from the board (read through the ROM loader, before any write).
   */
  private async planOtadata(s: Session, images: FlashImage[], opts: FlashRunOptions): Promise<{ image: FlashImage } | { outcome: OtadataOutcome } | undefined> {
    if (opts.otadata === undefined) return undefined;
    if (opts.otadata === "keep") return { outcome: { action: "kept", summary: "kept (otadata: keep)" } };
    if (opts.eraseAll) return { outcome: { action: "erased", summary: "erased with the whole flash (erase: true)" } };
    const flashFacts = this.profile.flash ?? DEFAULT_FLASH;
    const facts = { chip: this.profile.chip ?? "esp32", flashSize: flashFacts.size, bootloaderOffset: flashFacts.bootloaderOffset, appOffset: flashFacts.appOffset };
    if (!mayHoldApp(images, facts)) return { outcome: { action: "none", summary: "none: no app image written" } };
    const tableOffset = flashFacts.partitionTableOffset ?? DEFAULT_TABLE_OFFSET;
    const written = tableInImages(images, tableOffset);
    const table = written ?? (await readBoardTable(s.loader, (p) => s.guard.race(p), tableOffset, this.log));
    return planOtadataReset(images, table, written ? "written by this flash" : `read from the board at 0x${tableOffset.toString(16)}`, flashFacts.size);
  }

  /** Reads the board's MAC through the ROM loader, then boots it back into its app. */
  async readMac(): Promise<string> {
    return this.withSession("MAC read", undefined, ROM_BAUD, async (s) => s.mac, false);
  }

  /** Plays the profile's reset sequence for `mode` on the link (or the matching hook). */
  async reset(mode: ResetMode): Promise<void> {
    if (!this.link.isOpen) await this.link.open();
    const done = await this.sequencer.run(mode);
    if (!done) {
      throw new LabError("FLASH_FAILED", `cannot reset ${this.link.path} into ${mode} mode: the link has no DTR/RTS; give the driver an ${mode === "download" ? "enterDownloadMode" : "enterRunMode"} hook`);
    }
  }

  private async write(
    s: Session,
    todo: number[],
    images: FlashImage[],
    padded: Uint8Array[],
    reports: FlashImageReport[],
    opts: FlashRunOptions,
    progress: { writing: boolean },
  ): Promise<void> {
    // The stub may already run: reading the partition table falls back to it on chips without READ_FLASH_SLOW.
    if (!s.loader.IS_STUB) await s.guard.race(s.loader.runStub());
    const baud = opts.baudRate ?? this.profile.serial?.flashBaud ?? ROM_BAUD;
    if (baud !== ROM_BAUD) await s.guard.race(s.loader.changeBaud());
    progress.writing = true;
    if (opts.eraseAll) await s.guard.race(s.loader.eraseFlash());
    const race = <T>(p: Promise<T>) => s.guard.race(p);
    for (const i of todo) {
      const t0 = Date.now();
      const size = images[i]!.data.length;
      await writeCompressed(s.loader, padded[i]!, images[i]!.offset, {
        verify: opts.verify ?? true,
        race,
        onProgress: (written, total) => opts.onProgress?.({ image: i, written: Math.min(size, Math.round((written / total) * size)), total: size }),
      });
      reports[i]!.seconds = (Date.now() - t0) / 1000;
      this.log(`wrote ${size} bytes at 0x${images[i]!.offset.toString(16)} in ${reports[i]!.seconds.toFixed(2)} s`);
    }
    await s.loader.after("no_reset_stub");
  }

  /**
   * Reset into download mode, sync, identify; run `fn`; then always leave esptool-js and boot the
   * board back into its app (also after a failure, so a board is never left in the loader).
   */
  private async withSession<T>(what: string, signal: AbortSignal | undefined, baud: number | undefined, fn: (s: Session) => Promise<T>, checkMac = true): Promise<T> {
    if (!this.link.isOpen) await this.link.open();
    const guard = new LinkGuard(this.link, what, signal);
    const adapter = new WebSerialPortAdapter(this.link, this.opts.usbInfo ?? {});
    const transport = new Transport(adapter as unknown as SerialPort, false);
    // Transport prints some trace lines with console.log even when tracing is off.
    transport.trace = (msg: string) => this.log(`esptool-js: ${msg}`);
    const terminal: IEspLoaderTerminal = { clean: () => undefined, writeLine: (d) => this.log(d), write: (d) => d.trim() && this.log(d.trim()) };
    const enterDownload = async () => {
      await this.sequencer.run("download");
    };
    const loader = new ESPLoader({
      transport,
      baudrate: baud ?? this.profile.serial?.flashBaud ?? ROM_BAUD,
      romBaudrate: this.profile.serial?.baud ?? ROM_BAUD,
      terminal,
      resetConstructors: {
        classicReset: (t) => new ProfileResetStrategy(t, enterDownload),
        usbJTAGSerialReset: (t) => new ProfileResetStrategy(t, enterDownload),
      },
    });
    let failed = false;
    try {
      try {
        await guard.race(loader.detectChip("default_reset", this.opts.connectAttempts ?? 7));
      } catch (err) {
        if (guard.error) throw guard.error;
        const message = (err as Error).message;
        if (/Failed to connect/i.test(message)) {
          throw new LabError("SYNC_FAILED", `no answer from the ESP32 ROM loader on ${this.link.path}: check the port, that the board is powered, and its reset lines (profile reset.download)`, { cause: err });
        }
        throw err;
      }
      const chip = loader.chip.CHIP_NAME;
      const expectedChip = this.profile.chip;
      if (expectedChip !== undefined && chip.toLowerCase().replace(/-/g, "") !== expectedChip) {
        throw new LabError("IDENTITY_MISMATCH", `the board on ${this.link.path} is an ${chip}, but profile ${this.profile.id ?? "(unnamed)"} is for ${expectedChip}: check which board is on this port`);
      }
      const mac = (await guard.race(loader.chip.readMac(loader))).toLowerCase();
      if (checkMac && this.opts.expectedMac !== undefined && mac !== this.opts.expectedMac.toLowerCase()) {
        throw new LabError("IDENTITY_MISMATCH", `the board on ${this.link.path} has MAC ${mac}, expected ${this.opts.expectedMac}: another board is on this port; nothing was written`);
      }
      return await fn({ loader, guard, chip, mac });
    } catch (err) {
      failed = true;
      const guardError = guard.error;
      if (guardError) {
        // esptool-js cannot be cancelled: the command we stopped waiting for keeps retrying with
        // multi-second read timeouts, which would hold a CLI process open after it has failed.
        transport.read = () => Promise.reject(guardError);
      }
      throw this.classify(err, guard);
    } finally {
      guard.dispose();
      await withTimeout(transport.disconnect(), 1000);
      if (this.link.isOpen) {
        // The app talks at the console rate, whatever speed the flash ran at.
        await this.link.setBaudRate(this.profile.serial?.baud ?? ROM_BAUD).catch(() => undefined);
        await this.sequencer.run("run").catch((err: unknown) => this.log(`reset into the app failed: ${(err as Error).message}`));
      } else if (!failed) {
        this.log(`${this.link.path} closed before the board could be reset into its app`);
      }
    }
  }

  private classify(err: unknown, guard: LinkGuard): LabError {
    // Any close of the link during the session (unplug or not) is reported by the guard.
    if (guard.error) return guard.error;
    if (err instanceof LabError) return err;
    const message = err instanceof Error ? err.message : String(err);
    return new LabError("FLASH_FAILED", `flashing ${this.link.path} failed: ${message}`, { cause: err });
  }
}

function otadataDone(image: FlashImage, skipped: boolean): OtadataOutcome {
  const where = `0x${image.offset.toString(16)} (0x${image.data.length.toString(16)} bytes)`;
  if (skipped) return { action: "blank", summary: `already blank at ${where}, nothing written`, offset: image.offset, size: image.data.length };
  return { action: "reset", summary: `reset at ${where}`, offset: image.offset, size: image.data.length };
}

function padTo4(data: Uint8Array): Uint8Array {
  if (data.length % 4 === 0) return data;
  const out = new Uint8Array(data.length + (4 - (data.length % 4))).fill(0xff);
  out.set(data);
  return out;
}

function md5Hex(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

async function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}
