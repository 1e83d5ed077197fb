import { stat } from "node:fs/promises";
import { LabError, type FlashImageSchema, type Step } from "@hil/contracts";
import type { z } from "zod";
import type { FlashImageFile } from "../board-target.js";
import { requireEsp32, type StepContext, type StepOutcome } from "../step-context.js";

type FlashStep = Extract<Step, { type: "flash" }>;

function parseOffset(value: z.infer<typeof FlashImageSchema>["offset"]): number | undefined {
  if (value === undefined) return undefined;
  return typeof value === "number" ? value : Number.parseInt(value, 16);
}

/** Flash images: an explicit offset wins; an `esp32-app` artifact goes to the profile's app offset; anything else to 0. */
export async function resolveImages(ctx: StepContext<FlashStep>, appOffset: number): Promise<FlashImageFile[]> {
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
    const offset = parseOffset(img.offset) ?? (kind === "esp32-app" ? appOffset : 0);
    images.push({ name: img.artifact, path, offset });
  }
  return images;
}

export async function runFlashStep(ctx: StepContext<FlashStep>): Promise<StepOutcome> {
  const target = requireEsp32(ctx);
  const images = await resolveImages(ctx, target.appOffset);
  // Output from before the flash belongs to the old firmware: later expects must not match it.
  target.console.skipToEnd();
  await target.flash(images, { erase: ctx.step.erase, signal: ctx.signal });
  const what = images.map((i) => `${i.name}@0x${i.offset.toString(16)}`).join(", ");
  return { outcome: "pass", message: `flashed ${what}` };
}
