import { ImageInvalidError } from "@hil/contracts";
import { validateImageForFlash, type ChipName } from "../../esp32-image/index.js";

export interface FlashImage {
  data: Uint8Array;
  offset: number;
  name?: string;
  /** "app": checked as an ESP image (bootloader or app); "raw": only size and alignment. Default: see resolveKind. */
  kind?: "app" | "raw";
}

export interface FlashTargetFacts {
  chip: ChipName;
  flashSize: number;
  bootloaderOffset: number;
  appOffset: number;
}

const MAGIC = 0xe9;

/**
 * What an image is when the caller did not say: anything starting with 0xE9 is an ESP image, and
 * whatever goes to the profile's app offset must be one (a corrupt app there must not slip through
 * as "raw"). A merged image (starting at the bootloader offset or 0 and reaching the app offset)
 * is raw as a whole, and its embedded bootloader and app are checked on their own.
 */
export function resolveKind(image: FlashImage, target: FlashTargetFacts): "app" | "raw" | "merged" {
  if (image.kind !== undefined) return image.kind;
  const reachesApp = image.offset < target.appOffset && image.offset + image.data.length > target.appOffset;
  if (reachesApp && (image.offset === 0 || image.offset === target.bootloaderOffset)) return "merged";
  if (image.data[0] === MAGIC || image.offset === target.appOffset) return "app";
  return "raw";
}

/** Every reason to refuse these images, each prefixed with the image's name; empty when all is well. */
export function imageProblems(images: FlashImage[], target: FlashTargetFacts): string[] {
  const problems: string[] = [];
  if (images.length === 0) problems.push("no images given: nothing to flash");
  const spans: { start: number; end: number; label: string }[] = [];
  images.forEach((image, i) => {
    const label = image.name ?? `image ${i + 1} @0x${image.offset.toString(16)}`;
    const kind = resolveKind(image, target);
    const base = { chip: target.chip, flashSize: target.flashSize, offset: image.offset };
    const own = validateImageForFlash(image.data, { ...base, kind: kind === "app" ? "app" : "raw" });
    if (kind === "merged") {
      for (const inner of [target.bootloaderOffset, target.appOffset]) {
        const at = inner - image.offset;
        if (at < 0 || image.data[at] !== MAGIC) continue;
        const part = image.data.subarray(at);
        for (const p of validateImageForFlash(part, { ...base, offset: inner, flashSize: Number.MAX_SAFE_INTEGER, kind: "app" })) {
          own.push(`embedded image at 0x${inner.toString(16)}: ${p}`);
        }
      }
    }
    for (const p of own) problems.push(`${label}: ${p}`);
    spans.push({ start: image.offset, end: image.offset + image.data.length, label });
  });
  spans.sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    const prev = spans[i - 1]!;
    const cur = spans[i]!;
    if (cur.start < prev.end) problems.push(`${cur.label} overlaps ${prev.label}: give each image its own flash region`);
  }
  return problems;
}

/** Throws ImageInvalidError naming every problem; called before the board is touched. */
export function assertImagesFlashable(images: FlashImage[], target: FlashTargetFacts): void {
  const problems = imageProblems(images, target);
  if (problems.length > 0) {
    throw new ImageInvalidError(`refusing to flash, nothing was written: ${problems.join("; ")}`);
  }
}
