import { open, readFile, stat } from "node:fs/promises";
import { LabError, type FlashImageSchema, type Step } from "@hil/contracts";
import type { z } from "zod";
import { checkBuildForBoard, idfBuildImages, readIdfBuild, readIdfBuildArchive, type IdfBuild } from "../../esp32-image/idf-build.js";
import { isTar } from "../../esp32-image/tar.js";
import type { Esp32BoardTarget, FlashImageFile } from "../board-target.js";
import { requireEsp32, type StepContext, type StepOutcome } from "../step-context.js";

type FlashStep = Extract<Step, { type: "flash" }>;

function parseOffset(value: z.infer<typeof FlashImageSchema>["offset"]): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === "number" ? value : Number.parseInt(value, 16);
}

/** The first 512 bytes of a file (enough to tell a tar archive). */
async function head(path: string): Promise<Uint8Array> {
  const f = await open(path, "r");
  try {
    const buf = new Uint8Array(512);
    const { bytesRead } = await f.read(buf, 0, 512, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await f.close();
  }
}

/**
 * An artifact that is an ESP-IDF build: a build directory (`hil test --artifact fw=build/`) or the tar
 * `hil run` packs one into (kind esp-idf-build, or any flash artifact that turns out to be one, so a
 * suite written for an app image also takes a whole build). Undefined: an ordinary image file.
 */
async function buildOf(name: string, path: string, kind: string | undefined): Promise<IdfBuild | undefined> {
  const info = await stat(path);
  if (info.isDirectory()) return readIdfBuild(path);
  if (kind !== "esp-idf-build" && !isTar(await head(path))) return undefined;
  return readIdfBuildArchive(new Uint8Array(await readFile(path)), `artifact "${name}"`);
}

/**
 * Flash images: an explicit offset wins; an `esp32-app` artifact goes to the profile's app offset; an
 * ESP-IDF build becomes all its parts at their offsets (checked against the board's chip and flash
 * first); anything else goes to 0.
 */
export async function resolveImages(ctx: StepContext<FlashStep>, target: Pick<Esp32BoardTarget, "appOffset" | "chip" | "flashSize">): Promise<FlashImageFile[]> {
  const images: FlashImageFile[] = [];
  for (const img of ctx.step.images) {
    const path = ctx.artifacts[img.artifact];
    if (path === undefined) {
      throw new LabError("ARTIFACT_MISSING", `artifact "${img.artifact}" was not given; pass it as --artifact ${img.artifact}=FILE`);
    }
    try {
      await stat(path);
    } catch (err) {
      throw new LabError("ARTIFACT_MISSING", `artifact "${img.artifact}" points to ${path}, which cannot be read`, { cause: err });
    }
    const kind = ctx.suite.artifacts[img.artifact]?.kind;
    let build: IdfBuild | undefined;
    try {
      build = await buildOf(img.artifact, path, kind);
    } catch (err) {
      throw new LabError("IMAGE_INVALID", (err as Error).message, { cause: err });
    }
    if (build) {
      const problems = checkBuildForBoard(build, { chip: target.chip, flashSize: target.flashSize });
      if (problems.length > 0) throw new LabError("IMAGE_INVALID", `artifact "${img.artifact}" cannot go to this board; nothing was written: ${problems.join("; ")}`);
      const roles = new Map(build.files.map((f) => [f.offset, f.role]));
      for (const part of idfBuildImages(build)) {
        const role = roles.get(part.offset);
        images.push({ name: `${img.artifact}:${part.name}`, path, offset: part.offset, data: part.data, kind: role === "bootloader" || role === "app" ? "app" : "raw" });
      }
      continue;
    }
    const offset = parseOffset(img.offset) ?? (kind === "esp32-app" ? target.appOffset : 0);
    images.push({ name: img.artifact, path, offset });
  }
  return images;
}

export async function runFlashStep(ctx: StepContext<FlashStep>): Promise<StepOutcome> {
  const target = requireEsp32(ctx);
  const images = await resolveImages(ctx, target);
  // Output from before the flash belongs to the old firmware: later expects must not match it.
  target.console.skipToEnd();
  const summary = await target.flash(images, { erase: ctx.step.erase, otadata: ctx.step.otadata, signal: ctx.signal });
  const what = images.map((i) => `${i.name}@0x${i.offset.toString(16)}`).join(", ");
  const otadata = summary?.otadata;
  const said = otadata && summary?.otadataReset ? `; otadata: ${otadata}` : "";
  return { outcome: "pass", message: `flashed ${what}${said}`, ...(otadata ? { details: { otadata } } : {}) };
}
