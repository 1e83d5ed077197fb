import type { Step, Suite } from "@hil/contracts";
import { STEP_CAPABILITY, type DeviceProfile } from "@hil/device-profiles";
import type { FitProblem } from "./fit-problem.js";
import { checkOtaTriggerFit } from "./ota-trigger-fit.js";

/** The capability each step type needs: one table, in the board-kind registry. */
export { STEP_CAPABILITY };

export type { FitProblem };

function stepRole(step: Step): string | undefined {
  return "role" in step ? step.role : undefined;
}

/**
 * Whether `profile` can play `role` in `suite`: every step on that role needs a capability the
 * profile has, and flash offsets must fit its flash. The scheduler calls this when a run overrides
 * a role's profile, so a suite written for esp32-devkitc is accepted on esp32-virtual and refused
 * on an Android phone before any board is leased.
 */
export function checkRoleProfile(suite: Suite, role: string, profile: DeviceProfile): FitProblem[] {
  const problems: FitProblem[] = [];
  suite.steps.forEach((step, i) => {
    if (stepRole(step) !== role) return;
    const needed = STEP_CAPABILITY[step.type];
    if (needed !== undefined && !profile.capabilities.includes(needed)) {
      problems.push({
        path: ["steps", i, "type"],
        message: `${step.type} needs capability "${needed}", which profile ${profile.id} (role ${role}) does not have (it has: ${profile.capabilities.join(", ") || "none"})`,
      });
    }
    if (step.type === "flash" && profile.kind === "esp32") {
      const flash = profile.flash;
      step.images.forEach((img, j) => {
        const offset = typeof img.offset === "string" ? Number(img.offset) : img.offset;
        if (offset !== undefined && offset >= flash.size) {
          problems.push({
            path: ["steps", i, "images", j, "offset"],
            message: `offset 0x${offset.toString(16)} is past the end of ${profile.id}'s ${flash.size / 1024 / 1024} MB flash`,
          });
        }
      });
    }
  });
  problems.push(...checkOtaTriggerFit(suite, role, profile));
  return problems;
}

/** Every role of the suite against the profiles it names (or overrides: role → profile id). */
export function checkSuiteProfiles(
  suite: Suite,
  profiles: ReadonlyMap<string, DeviceProfile>,
  overrides: Readonly<Record<string, string>> = {},
): FitProblem[] {
  const problems: FitProblem[] = [];
  for (const [role, spec] of Object.entries(suite.roles)) {
    const id = overrides[role] ?? spec.profile;
    const profile = profiles.get(id);
    if (!profile) {
      const known = [...profiles.keys()].sort().join(", ");
      problems.push({ path: ["roles", role, "profile"], message: `no device profile "${id}" (known: ${known || "none"})` });
      continue;
    }
    problems.push(...checkRoleProfile(suite, role, profile));
  }
  return problems;
}
