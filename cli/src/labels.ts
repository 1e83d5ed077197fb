import { UsageError } from "@hil/contracts";

/** `--labels k=v,k2=v2` (the flag may repeat) as a record; a pair without `=` is a usage error. */
export function parseLabels(specs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const part of specs.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new UsageError(`--labels takes k=v pairs separated by commas (got "${part}")`);
    labels[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return labels;
}
