import type { Suite } from "@hil/contracts";
import type { FitProblem } from "./fit-problem.js";

/** What each `ota.serve` publishes (the runner's RunScope): `<as>.url`, `<as>.manifest`, `<as>.version`. */
const PUBLISHED = ["url", "manifest", "version"] as const;
const REFERENCE = /\$\{([^}]*)\}/g;

/**
 * `${name}` in a step's text must name a value an earlier step publishes, and `ota.trigger` must watch a
 * server an earlier `ota.serve` started: caught when the suite is checked, not halfway through a run.
 */
export function checkStepVars(suite: Suite): FitProblem[] {
  const problems: FitProblem[] = [];
  const servers = new Set<string>();
  const vars = new Set<string>();
  const refs = (text: string | undefined, path: (string | number)[]) => {
    for (const m of (text ?? "").matchAll(REFERENCE)) {
      const name = m[1] ?? "";
      if (vars.has(name)) continue;
      const [prefix, value] = name.split(".");
      const hint =
        prefix !== undefined && servers.has(prefix)
          ? `ota.serve as: ${prefix} publishes ${PUBLISHED.map((p) => `${prefix}.${p}`).join(", ")}`
          : `no earlier ota.serve has as: ${prefix ?? name}${value === undefined ? " (write ${<as>.url})" : ""}`;
      problems.push({ path, message: `\${${name}} is not set by an earlier step: ${hint}` });
    }
  };
  suite.steps.forEach((step, i) => {
    switch (step.type) {
      case "ota.serve":
        servers.add(step.as);
        for (const p of PUBLISHED) vars.add(`${step.as}.${p}`);
        return;
      case "ota.trigger":
        if (!servers.has(step.server)) {
          problems.push({ path: ["steps", i, "server"], message: `no earlier ota.serve has as: ${step.server}; add one before this step` });
        }
        refs(step.command, ["steps", i, "command"]);
        return;
      case "expect-boot":
      case "expect-rollback":
        refs(step.version, ["steps", i, "version"]);
        return;
      default:
        return;
    }
  });
  return problems;
}
