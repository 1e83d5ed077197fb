import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LabError } from "@hil/contracts";
import { parse as parseYaml } from "yaml";
import { BUILTIN_SCENARIOS, ScenarioManifestSchema, ScenarioSpecSchema, type ScenarioKind, type ScenarioManifest, type ScenarioSpec } from "./scenario-spec.js";

const describe = (issues: { path: PropertyKey[]; message: string }[]) => issues.map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`).join("; ");

/** A built-in scenario by name (`idle`, `logger`, `console`, `unity`, `panic`, `hang`, `bootloop`) or a JSON/YAML file. */
export function loadScenario(nameOrFile: string): ScenarioSpec {
  if ((BUILTIN_SCENARIOS as readonly string[]).includes(nameOrFile)) return ScenarioSpecSchema.parse({ kind: nameOrFile as ScenarioKind });
  if (!existsSync(nameOrFile)) {
    throw new LabError("USAGE", `scenario "${nameOrFile}" is neither a built-in (${BUILTIN_SCENARIOS.join(", ")}) nor an existing JSON/YAML file`);
  }
  return parseScenarioText(readFileSync(nameOrFile, "utf8"), nameOrFile);
}

export function parseScenarioText(text: string, source = "scenario"): ScenarioSpec {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new LabError("USAGE", `${source} is not valid JSON/YAML: ${(err as Error).message}`, { cause: err });
  }
  // A bare name inside a file is allowed too: `kind: unity` and `unity` mean the same.
  if (typeof data === "string" && (BUILTIN_SCENARIOS as readonly string[]).includes(data)) data = { kind: data };
  const parsed = ScenarioSpecSchema.safeParse(data);
  if (!parsed.success) throw new LabError("USAGE", `${source} is not a valid scenario: ${describe(parsed.error.issues)}; "kind" is one of ${BUILTIN_SCENARIOS.join(", ")}`);
  return parsed.data;
}

/**
 * A manifest file: `images: { <sha256>: <built-in name | scenario file relative to the manifest | inline scenario> }`.
 */
export function loadScenarioManifest(file: string): ScenarioManifest {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(file, "utf8"));
  } catch (err) {
    throw new LabError("USAGE", `cannot read scenario manifest ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (typeof data === "object" && data !== null && "images" in data && typeof data.images === "object" && data.images !== null) {
    const images: Record<string, unknown> = {};
    for (const [sha, value] of Object.entries(data.images)) {
      images[sha.toLowerCase()] = typeof value === "string" ? loadScenario((BUILTIN_SCENARIOS as readonly string[]).includes(value) ? value : resolve(dirname(file), value)) : value;
    }
    data = { images };
  }
  const parsed = ScenarioManifestSchema.safeParse(data);
  if (!parsed.success) throw new LabError("USAGE", `scenario manifest ${file} is invalid: ${describe(parsed.error.issues)}`);
  return parsed.data;
}
