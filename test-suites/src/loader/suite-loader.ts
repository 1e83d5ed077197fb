import { join } from "node:path";
import { LabError, SuiteSchema, type Suite } from "@hil/contracts";
import {
  checkYamlFile,
  formatPath,
  formatProblem,
  loadProfiles,
  packageDirOf,
  sortProblems,
  yamlFilesIn,
  type DeviceProfile,
  type Problem,
} from "@hil/device-profiles";
import { checkArtifactKinds } from "../compat/artifact-kinds.js";
import { checkSuiteProfiles } from "../compat/profile-fit.js";
import { checkStepVars } from "../compat/step-vars.js";

/** The suites shipped with this package. */
export const SUITES_DIR = join(packageDirOf(import.meta.url), "suites");

export interface SuiteCheck {
  suites: Map<string, Suite>;
  problems: Problem[];
}

export interface SuiteCheckOptions {
  /** Profiles the roles may name; default: the shipped profiles. */
  profiles?: ReadonlyMap<string, DeviceProfile>;
}

/** Validates suite files: schema, step roles, declared artifacts, regexes, profiles and their capabilities. */
export async function checkSuites(paths: string[], opts: SuiteCheckOptions = {}): Promise<SuiteCheck> {
  const profiles = opts.profiles ?? (await loadProfiles());
  const suites = new Map<string, Suite>();
  const where = new Map<string, string>();
  const problems: Problem[] = [];
  for (const file of paths) {
    const res = await checkYamlFile(file, SuiteSchema);
    problems.push(...res.problems);
    const suite = res.value;
    const locator = res.locator;
    if (!suite || !locator) continue;
    const fit = [...checkArtifactKinds(suite), ...checkStepVars(suite), ...checkSuiteProfiles(suite, profiles)];
    problems.push(...fit.map((p) => ({ file, line: locator.lineOf(p.path), path: formatPath(p.path), message: p.message })));
    const first = where.get(suite.name);
    if (first !== undefined) {
      problems.push({ file, line: locator.lineOf(["name"]), path: "name", message: `suite name "${suite.name}" is already used by ${first}` });
      continue;
    }
    if (fit.length > 0) continue;
    where.set(suite.name, file);
    suites.set(suite.name, suite);
  }
  return { suites, problems: sortProblems(problems) };
}

/** `hil suites check`: every problem in these files, each with its line. */
export async function checkSuiteFiles(paths: string[], opts: SuiteCheckOptions = {}): Promise<Problem[]> {
  return (await checkSuites(paths, opts)).problems;
}

/** Loads one suite file; throws a SUITE_INVALID LabError listing every problem. */
export async function loadSuiteFile(path: string, opts: SuiteCheckOptions = {}): Promise<Suite> {
  const { suites, problems } = await checkSuites([path], opts);
  const suite = [...suites.values()][0];
  if (!suite || problems.length > 0) throw invalid(problems);
  return suite;
}

/** Loads every suite in `dir` (default: the shipped ones), keyed by name; throws if any is invalid. */
export async function loadSuites(dir: string = SUITES_DIR, opts: SuiteCheckOptions = {}): Promise<Map<string, Suite>> {
  const { suites, problems } = await checkSuites(await yamlFilesIn(dir), opts);
  if (problems.length > 0) throw invalid(problems);
  return suites;
}

/** A shipped suite by name, or undefined. */
export async function findSuite(name: string, dir: string = SUITES_DIR): Promise<Suite | undefined> {
  return (await loadSuites(dir)).get(name);
}

function invalid(problems: Problem[]): LabError {
  return new LabError("SUITE_INVALID", `invalid test suite (fix these, then run \`hil suites check\`):\n${problems.map(formatProblem).join("\n")}`);
}
