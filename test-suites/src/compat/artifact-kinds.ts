import type { Suite } from "@hil/contracts";
import type { FitProblem } from "./fit-problem.js";

type ArtifactKind = Suite["artifacts"][string]["kind"];

/** Which declared artifact kinds a step may take; "file" is the catch-all and always fits. */
const ACCEPTS: Partial<Record<Suite["steps"][number]["type"], readonly ArtifactKind[]>> = {
  flash: ["esp32-app", "esp32-bin", "esp-idf-build", "file"],
  "android.install": ["apk", "file"],
  "fastboot.flash": ["android-image", "file"],
  "android.ab-update": ["android-image", "file"],
  "ota.serve": ["esp32-app", "esp32-bin", "file"],
};

/** Catches an APK handed to a flash step, an ESP32 image handed to `adb install`, and the like. */
export function checkArtifactKinds(suite: Suite): FitProblem[] {
  const problems: FitProblem[] = [];
  suite.steps.forEach((step, i) => {
    const accepts = ACCEPTS[step.type];
    if (!accepts) return;
    const uses: { name: string; path: (string | number)[] }[] =
      step.type === "flash" || step.type === "android.ab-update"
        ? step.images.map((img, j) => ({ name: img.artifact, path: ["steps", i, "images", j, "artifact"] }))
        : "artifact" in step
          ? [{ name: step.artifact, path: ["steps", i, "artifact"] }]
          : [];
    if (step.type === "flash") {
      step.images.forEach((img, j) => {
        const kind = suite.artifacts[img.artifact]?.kind;
        // The runner puts only esp32-app images at the profile's appOffset; anything else would land at 0x0.
        if (kind === "esp-idf-build" && img.offset !== undefined) {
          problems.push({ path: ["steps", i, "images", j, "offset"], message: `image "${img.artifact}" is an ESP-IDF build: its files' offsets come from its flasher_args.json; remove offset` });
        }
        if (img.offset === undefined && kind !== undefined && kind !== "esp32-app" && kind !== "esp-idf-build" && accepts.includes(kind)) {
          problems.push({
            path: ["steps", i, "images", j],
            message: `image "${img.artifact}" (kind ${kind}) needs an offset, e.g. offset: 0x1000; only esp32-app images default to the profile's appOffset`,
          });
        }
      });
    }
    for (const use of uses) {
      const kind = suite.artifacts[use.name]?.kind;
      if (kind !== undefined && !accepts.includes(kind)) {
        problems.push({ path: use.path, message: `${step.type} cannot take artifact "${use.name}" of kind ${kind} (it takes ${accepts.join(", ")})` });
      }
    }
  });
  return problems;
}
