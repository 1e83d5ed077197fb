import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ProfileInvalidError } from "@hil/contracts";
import { DeviceProfileSchema, type DeviceProfile } from "../schema/device-profile-schema.js";
import { formatProblem, sortProblems, type Problem } from "../yaml/problem.js";
import { checkYamlFile } from "../yaml/yaml-validator.js";
import { packageDirOf } from "./package-dir.js";

/** The profiles shipped with this package. */
export const PROFILES_DIR = join(packageDirOf(import.meta.url), "profiles");

/** The *.yaml / *.yml files directly in `dir`, sorted. */
export async function yamlFilesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names
    .filter((n) => n.endsWith(".yaml") || n.endsWith(".yml"))
    .sort()
    .map((n) => join(dir, n));
}

export interface ProfileCheck {
  profiles: Map<string, DeviceProfile>;
  problems: Problem[];
}

/** Validates profile files and cross-checks them (duplicate ids, duplicate USB fingerprints). */
export async function checkProfiles(paths: string[]): Promise<ProfileCheck> {
  const profiles = new Map<string, DeviceProfile>();
  const where = new Map<string, string>();
  const problems: Problem[] = [];
  const fingerprints = new Map<string, string>();
  for (const file of paths) {
    const res = await checkYamlFile(file, DeviceProfileSchema);
    problems.push(...res.problems);
    const profile = res.value;
    if (!profile || !res.locator) continue;
    const first = where.get(profile.id);
    if (first !== undefined) {
      problems.push({ file, line: res.locator.lineOf(["id"]), path: "id", message: `id "${profile.id}" is already used by ${first}` });
      continue;
    }
    profile.usb.forEach((u, i) => {
      // Discovery picks a profile by fingerprint, so one fingerprint must name one board type.
      const key = `${u.vendorId}:${u.productId}`.toLowerCase();
      const owner = fingerprints.get(key);
      if (owner !== undefined) {
        problems.push({ file, line: res.locator?.lineOf(["usb", i]) ?? 1, path: `usb[${i}]`, message: `usb ${key} also identifies profile ${owner}` });
      } else fingerprints.set(key, profile.id);
    });
    where.set(profile.id, file);
    profiles.set(profile.id, profile);
  }
  return { profiles, problems: sortProblems(problems) };
}

/** `hil profiles check`: every problem in these files, each with its line. */
export async function checkProfileFiles(paths: string[]): Promise<Problem[]> {
  return (await checkProfiles(paths)).problems;
}

/** Loads one profile file; throws ProfileInvalidError listing every problem. */
export async function loadProfileFile(path: string): Promise<DeviceProfile> {
  const res = await checkYamlFile(path, DeviceProfileSchema);
  if (!res.value) throw invalid(res.problems);
  return res.value;
}

/** Loads every profile in `dir` (default: the shipped ones), keyed by id; throws if any is invalid. */
export async function loadProfiles(dir: string = PROFILES_DIR): Promise<Map<string, DeviceProfile>> {
  const { profiles, problems } = await checkProfiles(await yamlFilesIn(dir));
  if (problems.length > 0) throw invalid(problems);
  return profiles;
}

function invalid(problems: Problem[]): ProfileInvalidError {
  return new ProfileInvalidError(
    `invalid device profile (fix these, then run \`hil profiles check\`):\n${problems.map(formatProblem).join("\n")}`,
  );
}
