import { stat } from "node:fs/promises";
import { LabError } from "@hil/contracts";
import { isAndroidTarget, type AndroidBoardTarget } from "../android-target.js";
import { requireTarget, type StepContext } from "../step-context.js";

/** The step's board as an Android board (the Android driver's executors run only there: kind-drivers.ts). */
export function requireAndroid(ctx: StepContext): AndroidBoardTarget {
  const target = requireTarget(ctx);
  if (!isAndroidTarget(target)) throw new LabError("STEP_UNSUPPORTED", `step "${ctx.step.type}" runs on Android boards; ${target.boardId} is ${target.kind}`);
  return target;
}

/** The local file of a suite artifact, checked to exist before anything touches the board. */
export async function artifactFile(ctx: StepContext, name: string): Promise<string> {
  const path = ctx.artifacts[name];
  if (path === undefined) throw new LabError("ARTIFACT_MISSING", `artifact "${name}" was not given; pass it as --artifact ${name}=FILE`);
  try {
    await stat(path);
  } catch (err) {
    throw new LabError("ARTIFACT_MISSING", `artifact "${name}" points to ${path}, which cannot be read`, { cause: err });
  }
  return path;
}

/** Quotes one word for the device's mksh. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
