// An ESP-IDF build as `idf.py build` leaves it: build/flasher_args.json names every file to write
// (bootloader, partition table, app, and any others such as otadata or a data partition) with its
// offset, the flash mode/size/freq the project was configured with, and the chip. The lab writes
// exactly that, so CI can pass a build directory as it comes out.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { LabError } from "@hil/contracts";
import { CHIP_FACTS, FLASH_FREQS, FLASH_MODES, FLASH_SIZES, isChipName, type ChipName, type FlashFreq, type FlashMode, type FlashSizeName } from "./chips.js";
import { readEsp32Image } from "./image-reader.js";
import { IMAGE_MAGIC } from "./layout.js";
import { packTar, unpackTar } from "./tar.js";

const OffsetText = z.string().regex(/^(0x[0-9a-fA-F]+|\d+)$/, "an offset such as 0x10000");
const Part = z.object({ offset: OffsetText, file: z.string().min(1) }).loose();

/** The parts of flasher_args.json the lab reads; anything else in it is left alone. */
export const FlasherArgsSchema = z
  .object({
    flash_files: z.record(OffsetText, z.string().min(1)),
    flash_settings: z.object({ flash_mode: z.string(), flash_size: z.string(), flash_freq: z.string() }).loose().optional(),
    bootloader: Part.optional(),
    app: Part.optional(),
    "partition-table": Part.optional(),
    extra_esptool_args: z.object({ chip: z.string().optional() }).loose().optional(),
  })
  .loose();

export type IdfPartRole = "bootloader" | "partition-table" | "app" | "other";

export interface IdfBuildFile {
  offset: number;
  /** Path relative to the build directory, as flasher_args.json gives it. */
  name: string;
  role: IdfPartRole;
  data: Uint8Array;
}

export interface IdfFlashSettings {
  mode?: FlashMode;
  size?: FlashSizeName;
  freq?: FlashFreq;
}

export interface IdfBuild {
  dir: string;
  chip: ChipName | undefined;
  settings: IdfFlashSettings;
  files: IdfBuildFile[];
}

function problem(message: string): LabError {
  return new LabError("USAGE", message);
}

/** Reads `build/` (or `build/flasher_args.json`) and every file it names; each problem names the field or file. */
export async function readIdfBuild(path: string): Promise<IdfBuild> {
  let file = resolve(path);
  try {
    if ((await stat(file)).isDirectory()) file = join(file, "flasher_args.json");
  } catch {
    throw problem(`${path}: no such file or directory`);
  }
  const dir = dirname(file);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === "ENOENT" ? "not found (is this an ESP-IDF build directory? run idf.py build)" : (err as Error).message;
    throw problem(`${file}: ${why}`);
  }
  return parseIdfBuild(text, file, dir, async (name) => {
    const full = resolve(dir, name);
    if (relative(dir, full).startsWith(`..${sep}`) || relative(dir, full) === "..") throw new Error("outside the build directory");
    try {
      return new Uint8Array(await readFile(full));
    } catch (err) {
      throw new Error(`cannot read ${name} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  });
}

/** A build packed as one tar archive (`packIdfBuild`, or `tar -C build -cf build.tar flasher_args.json …`). */
export async function readIdfBuildArchive(bytes: Uint8Array, label = "the build archive"): Promise<IdfBuild> {
  let files: Map<string, Uint8Array>;
  try {
    files = unpackTar(bytes);
  } catch (err) {
    throw problem(`${label}: ${(err as Error).message}`);
  }
  const args = files.get("flasher_args.json");
  if (!args) throw problem(`${label}: holds no flasher_args.json (pack an ESP-IDF build directory: hil run --artifact NAME=build/)`);
  return parseIdfBuild(new TextDecoder().decode(args), `${label}: flasher_args.json`, label, async (name) => {
    const data = files.get(name.replace(/^\.\//, ""));
    if (!data) throw new Error(`${name} is not in the archive`);
    return data;
  });
}

/** The build directory as one tar archive: flasher_args.json and exactly the files it names. */
export async function packIdfBuild(dir: string): Promise<Uint8Array> {
  const build = await readIdfBuild(dir);
  const args = await readFile(join(build.dir, "flasher_args.json"));
  return packTar([{ name: "flasher_args.json", data: new Uint8Array(args) }, ...build.files.map((f) => ({ name: f.name.replace(/^\.\//, ""), data: f.data }))]);
}

async function parseIdfBuild(text: string, file: string, dir: string, read: (name: string) => Promise<Uint8Array>): Promise<IdfBuild> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw problem(`${file}: ${(err as Error).message}`);
  }
  const parsed = FlasherArgsSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw problem(`${file}: ${i?.path.join(".") || "document"}: ${i?.message ?? "not flasher_args.json"}`);
  }
  const args = parsed.data;
  const chipText = args.extra_esptool_args?.chip;
  if (chipText !== undefined && !isChipName(chipText)) throw problem(`${file}: extra_esptool_args.chip: "${chipText}" is not a chip the lab knows`);
  const settings: IdfFlashSettings = {};
  const fs = args.flash_settings;
  if (fs) {
    if (fs.flash_mode !== "keep") {
      if (!(FLASH_MODES as readonly string[]).includes(fs.flash_mode)) throw problem(`${file}: flash_settings.flash_mode: "${fs.flash_mode}" is not one of ${FLASH_MODES.join(", ")}, keep`);
      settings.mode = fs.flash_mode as FlashMode;
    }
    if (fs.flash_size !== "keep" && fs.flash_size !== "detect") {
      if (!Object.hasOwn(FLASH_SIZES, fs.flash_size)) throw problem(`${file}: flash_settings.flash_size: "${fs.flash_size}" is not one of ${Object.keys(FLASH_SIZES).join(", ")}, keep, detect`);
      settings.size = fs.flash_size as FlashSizeName;
    }
    if (fs.flash_freq !== "keep") {
      if (!Object.hasOwn(FLASH_FREQS, fs.flash_freq)) throw problem(`${file}: flash_settings.flash_freq: "${fs.flash_freq}" is not one of ${Object.keys(FLASH_FREQS).join(", ")}, keep`);
      settings.freq = fs.flash_freq as FlashFreq;
    }
  }
  const roleOf = (name: string, offset: number): IdfPartRole => {
    for (const role of ["bootloader", "partition-table", "app"] as const) {
      const p = args[role];
      if (p && p.file === name && Number(p.offset) === offset) return role;
    }
    return "other";
  };
  const files: IdfBuildFile[] = [];
  for (const [offsetText, name] of Object.entries(args.flash_files)) {
    let data: Uint8Array;
    try {
      data = await read(name);
    } catch (err) {
      throw problem(`${file}: flash_files.${offsetText}: ${name}: ${(err as Error).message}`);
    }
    const offset = Number(offsetText);
    files.push({ offset, name, role: roleOf(name, offset), data });
  }
  files.sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < files.length; i++) {
    const prev = files[i - 1]!;
    const cur = files[i]!;
    if (prev.offset + prev.data.length > cur.offset) throw problem(`${file}: ${prev.name} at 0x${prev.offset.toString(16)} (${prev.data.length} bytes) overlaps ${cur.name} at 0x${cur.offset.toString(16)}`);
  }
  if (files.length === 0) throw problem(`${file}: flash_files is empty: nothing to write`);
  return { dir, chip: chipText as ChipName | undefined, settings, files };
}

/**
 * Problems that stop the build from being written to a board with this chip and flash size, found
 * before any byte is written: the build's chip (flasher_args.json, and each app image's header) must
 * be the board's, and every file must fit in its flash.
 */
export function checkBuildForBoard(build: IdfBuild, board: { chip: ChipName; flashSize: number }): string[] {
  const problems: string[] = [];
  const boardChip = CHIP_FACTS[board.chip].display;
  if (build.chip !== undefined && build.chip !== board.chip) {
    problems.push(`the build is for ${CHIP_FACTS[build.chip].display} (flasher_args.json extra_esptool_args.chip), the board is ${boardChip}: rebuild with idf.py set-target ${board.chip}`);
  }
  for (const f of build.files) {
    if (f.offset + f.data.length > board.flashSize) problems.push(`${f.name} (${f.data.length} bytes at 0x${f.offset.toString(16)}) does not fit in the board's ${board.flashSize / (1024 * 1024)} MiB flash`);
    if (f.role === "other" || f.data[0] !== IMAGE_MAGIC) continue;
    const info = readEsp32Image(f.data);
    if (info.chipId !== -1 && info.chip !== board.chip) {
      problems.push(`${f.name} is built for ${info.chip === "unknown" ? `chip id ${info.chipId}` : CHIP_FACTS[info.chip].display}, the board is ${boardChip}`);
    }
    for (const failure of info.failures) if (failure.kind !== "unknown-chip") problems.push(`${f.name}: ${failure.message}`);
  }
  return problems;
}

/**
 * The bootloader with the build's flash mode, size and frequency in its header (bytes 2 and 3), as
 * esptool writes it; the appended SHA-256, when there is one, is computed again over the new header.
 * Returns the same bytes when nothing changes.
 */
export function withFlashSettings(image: Uint8Array, settings: IdfFlashSettings): Uint8Array {
  if (image.length < 24 || image[0] !== IMAGE_MAGIC) return image;
  const mode = settings.mode !== undefined ? FLASH_MODES.indexOf(settings.mode) : image[2]!;
  const sizeCode = settings.size !== undefined ? FLASH_SIZES[settings.size] : image[3]! >> 4;
  const freqCode = settings.freq !== undefined ? FLASH_FREQS[settings.freq] : image[3]! & 0xf;
  const sizeFreq = (sizeCode << 4) | freqCode;
  if (image[2] === mode && image[3] === sizeFreq) return image;
  const out = new Uint8Array(image);
  out[2] = mode;
  out[3] = sizeFreq;
  const info = readEsp32Image(out);
  if (info.hashAppended && info.hash) {
    const end = info.imageLength - 32;
    out.set(createHash("sha256").update(out.subarray(0, end)).digest(), end);
  }
  return out;
}

/** The files to write: the bootloader carries the build's flash settings. */
export function idfBuildImages(build: IdfBuild): { name: string; offset: number; data: Uint8Array }[] {
  return build.files.map((f) => ({ name: basename(f.name), offset: f.offset, data: f.role === "bootloader" ? withFlashSettings(f.data, build.settings) : f.data }));
}
