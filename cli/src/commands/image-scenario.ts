import { BUILTIN_SCENARIOS, loadScenario, parseScenarioText, ScenarioSpecSchema, type ScenarioSpec } from "@hil/lab-agent";
import { UsageError } from "@hil/contracts";
import { parse as parseYaml } from "yaml";

/**
 * `hil image build --scenario NAME|FILE --scenario-set KEY=VALUE…`: a built-in scenario (or a file) with
 * some of its fields set from the command line, e.g. `--scenario ota --scenario-set markValid=false
 * --scenario-set companion.protocol=2`. VALUE is read as YAML, so `false`, `2` and `{ port: 8123 }` are
 * what they look like. The result goes through the scenario schema like a file would.
 */
export function scenarioWithSettings(nameOrFile: string, settings: readonly string[]): ScenarioSpec {
  const base = loadScenario(nameOrFile);
  if (settings.length === 0) return base;
  const fields = fieldsOf(base.kind);
  const data: Record<string, unknown> = { ...base };
  for (const setting of settings) {
    const eq = setting.indexOf("=");
    const key = eq > 0 ? setting.slice(0, eq).trim() : "";
    if (!/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*)*$/.test(key)) {
      throw new UsageError(`--scenario-set "${setting}" is not KEY=VALUE (e.g. markValid=false, companion.protocol=2)`);
    }
    const path = key.split(".");
    const top = path[0]!;
    if (top === "kind") throw new UsageError(`--scenario-set cannot change "kind": pick the scenario with --scenario`);
    if (!fields.includes(top)) throw new UsageError(`--scenario-set ${key}: scenario "${base.kind}" has no field "${top}"; its fields are ${fields.filter((f) => f !== "kind").join(", ")}`);
    setAt(data, path, readValue(setting.slice(eq + 1), key));
  }
  return parseScenarioText(JSON.stringify(data), `--scenario ${nameOrFile} with --scenario-set`);
}

/** The field names a scenario of this kind accepts (the schema strips unknown ones silently, so check first). */
function fieldsOf(kind: ScenarioSpec["kind"]): string[] {
  const schema = ScenarioSpecSchema.options.find((o) => o.shape.kind.value === kind);
  if (!schema) throw new UsageError(`scenario "${kind}" is not one of ${BUILTIN_SCENARIOS.join(", ")}`);
  return Object.keys(schema.shape);
}

function readValue(text: string, key: string): unknown {
  try {
    return parseYaml(text) ?? "";
  } catch (err) {
    throw new UsageError(`--scenario-set ${key}: "${text}" is not a YAML value (${(err as Error).message.split("\n")[0]})`, { cause: err });
  }
}

function setAt(target: Record<string, unknown>, path: string[], value: unknown): void {
  let at = target;
  for (const part of path.slice(0, -1)) {
    const next = at[part];
    if (typeof next !== "object" || next === null || Array.isArray(next)) at[part] = {};
    at = at[part] as Record<string, unknown>;
  }
  at[path.at(-1)!] = value;
}
