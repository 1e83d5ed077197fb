// Test helper: plays the virtual board's part around bootFirmware (ROM `rst:` line, reboot loop,
// console capture) so firmware behaviour can be checked without the serial layers.
import { bootFirmware, type FirmwareContext, type ResetReason, type RunningFirmware, type ScenarioManifest, type ScenarioSpec } from "../src/virtual/esp32/firmware/index.js";

export const POWERON: ResetReason = { code: 0x1, name: "POWERON_RESET" };

export class FirmwareBench {
  output = "";
  readonly reboots: ResetReason[] = [];
  private running: RunningFirmware | undefined;
  private stopped = false;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly flash: Uint8Array,
    private readonly opts: { scenario?: ScenarioSpec; manifest?: ScenarioManifest } = {},
  ) {}

  boot(reason: ResetReason = POWERON): void {
    if (this.stopped) return;
    this.running?.stop();
    this.emit(`ets Jun  8 2016 00:22:57\r\n\r\nrst:0x${reason.code.toString(16)} (${reason.name}),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n`);
    const ctx: FirmwareContext = {
      flash: this.flash,
      mac: "24:0a:c4:00:00:01",
      resetReason: reason,
      print: (text) => this.emit(text),
      reboot: (next) => {
        this.reboots.push(next);
        setImmediate(() => this.boot(next));
      },
      ...(this.opts.scenario ? { scenario: this.opts.scenario } : {}),
      ...(this.opts.manifest ? { manifest: this.opts.manifest } : {}),
    };
    this.running = bootFirmware(ctx);
  }

  send(text: string): void {
    this.running?.input(new TextEncoder().encode(text));
  }

  /** Output with ANSI colour codes removed. */
  get plain(): string {
    return this.output.replace(/\x1b\[[0-9;]*m/g, "");
  }

  /** Resolves once `pattern` matches the plain output after `from` (a character index). */
  waitFor(pattern: RegExp, timeoutMs = 10_000, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.plain.slice(from).match(pattern);
        if (!m) return false;
        clearTimeout(timer);
        this.waiters.delete(onOutput);
        resolve(m);
        return true;
      };
      const onOutput = () => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(onOutput);
        reject(new Error(`timed out waiting for ${pattern}; output so far:\n${this.plain}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(onOutput);
    });
  }

  stop(): void {
    this.stopped = true;
    this.running?.stop();
  }

  private emit(text: string): void {
    this.output += text;
    for (const w of [...this.waiters]) w();
  }
}

