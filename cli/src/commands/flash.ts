import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { toLabError, UsageError } from "@hil/contracts";
import { loadProfiles, type Esp32Profile } from "@hil/device-profiles";
import { checkBuildForBoard, ControlSocketReset, createLink, defaultOffset, Esp32FlashDriver, idfBuildImages, parseImageArg, readIdfBuild, type FlashImage, type FlashProgress } from "@hil/lab-agent";
import { SingleBar, Presets } from "cli-progress";
import type { Command } from "commander";
import { EXIT } from "../exit-codes.js";

interface FlashCliOptions {
  port: string;
  profile: string;
  baud?: string;
  skip: boolean;
  expectMac?: string;
  erase?: boolean;
  control?: string;
  flasherArgs?: string;
}

export function register(program: Command): void {
  program
    .command("flash")
    .description("flash ESP32 images through esptool-js over a serial port or rfc2217://host:port (skips images the board already holds)")
    .argument("[images...]", "IMAGE[@OFFSET]; an app image without @OFFSET goes to the profile's app offset (0x10000). Or an ESP-IDF build directory (build/): every file its flasher_args.json names")
    .option("--flasher-args <file>", "an ESP-IDF build's flasher_args.json: write every file it names at its offset, with the build's flash mode/size/freq")
    .requiredOption("--port <path|url>", "serial device (/dev/ttyUSB0) or rfc2217://host:port")
    .option("--profile <id>", "device profile", "esp32-devkitc")
    .option("--baud <rate>", "flash baud rate (default: the profile's flashBaud)")
    .option("--no-skip", "write even when the board already holds the same bytes")
    .option("--expect-mac <mac>", "refuse to write unless the board reports this MAC")
    .option("--erase", "erase the whole flash first")
    .option("--control <socket>", "reset through this control socket (a virtual board's PTY has no DTR/RTS); default <port>.ctl when it exists")
    .addHelpText("after", "\nExit codes: 0 flashed (or already flashed), 2 infrastructure (link closed, sync failed, wrong board), 64 bad usage or a refused image.")
    .action(async (imageArgs: string[], opts: FlashCliOptions) => {
      const profile = await pickProfile(opts.profile);
      const baud = opts.baud === undefined ? undefined : Number(opts.baud);
      if (baud !== undefined && (!Number.isInteger(baud) || baud < 9600)) throw new UsageError(`--baud "${opts.baud}" is not a baud rate such as 921600`);
      const buildPath = opts.flasherArgs ?? (imageArgs.length === 1 && isBuild(imageArgs[0]!) ? imageArgs[0] : undefined);
      if (buildPath === undefined && imageArgs.length === 0) throw new UsageError("give images (IMAGE[@OFFSET]…), a build directory, or --flasher-args FILE");
      if (buildPath !== undefined && opts.flasherArgs !== undefined && imageArgs.length > 0) throw new UsageError("--flasher-args writes a whole build: give no images beside it");
      const images = buildPath !== undefined ? await readBuild(buildPath, profile) : await readImages(imageArgs, profile.flash.appOffset);
      const link = createLink(opts.port, { baudRate: profile.serial.baud });
      const controlPath = opts.control ?? (!opts.port.includes("://") && existsSync(`${opts.port}.ctl`) ? `${opts.port}.ctl` : undefined);
      const control = controlPath === undefined ? undefined : new ControlSocketReset(controlPath);
      const driver = new Esp32FlashDriver({
        link,
        profile,
        ...(control ? { enterDownloadMode: () => control.reset("download"), enterRunMode: () => control.reset("run") } : {}),
        ...(opts.expectMac !== undefined ? { expectedMac: opts.expectMac.toLowerCase() } : {}),
        logger: (msg) => {
          if (process.env.HIL_FLASH_DEBUG === "1") process.stderr.write(`${msg}\n`);
        },
      });
      const progress = new ProgressView(images);
      try {
        const report = await driver.flash(images, {
          onProgress: (p) => progress.update(p),
          skipUnchanged: opts.skip,
          ...(opts.erase ? { eraseAll: true } : {}),
          ...(baud !== undefined ? { baudRate: baud } : {}),
        });
        progress.stop();
        for (const [i, r] of report.images.entries()) {
          const what = `${images[i]?.name ?? "image"} @0x${r.offset.toString(16)} (${r.size} bytes, md5 ${r.md5})`;
          process.stdout.write(r.skipped ? `unchanged, skipped: ${what}\n` : `written and verified: ${what} in ${r.seconds.toFixed(2)} s\n`);
        }
        process.stdout.write(
          report.alreadyFlashed
            ? `already flashed: ${report.chip} ${report.mac} holds every image; nothing written (${report.seconds.toFixed(2)} s)\n`
            : `flashed ${report.chip} ${report.mac}: ${report.bytesWritten} bytes in ${report.seconds.toFixed(2)} s; board reset into its app\n`,
        );
        process.exitCode = EXIT.OK;
      } catch (err) {
        progress.stop();
        const e = toLabError(err);
        process.stderr.write(`hil flash: ${e.message}\n`);
        process.exitCode = e.infra ? EXIT.INFRA : EXIT.USAGE;
      } finally {
        await link.close().catch(() => undefined);
      }
    });
}

async function pickProfile(id: string): Promise<Esp32Profile> {
  const profiles = await loadProfiles();
  const profile = profiles.get(id);
  if (!profile) throw new UsageError(`unknown profile "${id}"; known: ${[...profiles.keys()].join(", ")}`);
  if (profile.kind !== "esp32") throw new UsageError(`profile "${id}" is for ${profile.kind} boards; hil flash writes ESP32 boards`);
  return profile;
}

function isBuild(arg: string): boolean {
  if (arg.includes("@")) return false;
  if (arg.endsWith("flasher_args.json")) return true;
  try {
    return statSync(arg).isDirectory();
  } catch {
    return false;
  }
}

/** An ESP-IDF build: every file flasher_args.json names, refused as a whole (nothing written) when it does not fit the board. */
async function readBuild(path: string, profile: Esp32Profile): Promise<FlashImage[]> {
  let build;
  try {
    build = await readIdfBuild(path);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const problems = checkBuildForBoard(build, { chip: profile.chip, flashSize: profile.flash.size });
  if (problems.length > 0) throw new UsageError(`refusing the build in ${build.dir}; nothing was written:\n  ${problems.join("\n  ")}`);
  const s = build.settings;
  process.stdout.write(`ESP-IDF build for ${build.chip ?? profile.chip}: ${build.files.map((f) => `${f.name} @0x${f.offset.toString(16)}`).join(", ")} (flash ${s.mode ?? "keep"} ${s.size ?? "keep"} ${s.freq ?? "keep"})\n`);
  const roles = new Map(build.files.map((f) => [f.offset, f.role]));
  return idfBuildImages(build).map((img) => ({ ...img, kind: roles.get(img.offset) === "bootloader" || roles.get(img.offset) === "app" ? "app" : "raw" }));
}

async function readImages(args: string[], appOffset: number): Promise<FlashImage[]> {
  const images: FlashImage[] = [];
  for (const arg of args) {
    let spec;
    try {
      spec = parseImageArg(arg);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    let data: Uint8Array;
    try {
      data = new Uint8Array(await readFile(spec.path));
    } catch (err) {
      throw new UsageError(`cannot read ${spec.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const offset = spec.offset ?? defaultOffset(data, appOffset);
    if (offset === undefined) throw new UsageError(`${spec.path} is not an app image, so it has no default offset: write ${spec.path}@0x…`);
    images.push({ data, offset, name: basename(spec.path) });
  }
  return images;
}

/** A progress bar on a terminal; a line per 10 % otherwise (CI logs). */
class ProgressView {
  private bar: SingleBar | undefined;
  private current = -1;
  private lastTenth = -1;

  constructor(private readonly images: FlashImage[]) {}

  update(p: FlashProgress): void {
    const name = this.images[p.image]?.name ?? `image ${p.image + 1}`;
    if (process.stdout.isTTY) {
      if (p.image !== this.current) {
        this.bar?.stop();
        this.bar = new SingleBar({ format: `${name} [{bar}] {percentage}% {value}/{total} bytes`, hideCursor: true }, Presets.shades_classic);
        this.bar.start(p.total, 0);
        this.current = p.image;
      }
      this.bar?.update(p.written);
      return;
    }
    if (p.image !== this.current) {
      this.current = p.image;
      this.lastTenth = -1;
    }
    const tenth = p.total === 0 ? 10 : Math.floor((p.written / p.total) * 10);
    if (tenth !== this.lastTenth) {
      this.lastTenth = tenth;
      process.stdout.write(`writing ${name}: ${tenth * 10}% (${p.written}/${p.total} bytes)\n`);
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
