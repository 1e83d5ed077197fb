import { LabError } from "@hil/contracts";

interface Held {
  value: unknown;
  close(): Promise<void>;
}

/**
 * What lives as long as one run: values steps publish for later steps (`ota.url`, used as
 * `${ota.url}` in a step's text) and resources they open (an OTA server), closed when the run ends.
 */
export class RunScope {
  readonly vars = new Map<string, string>();
  private readonly held = new Map<string, Held>();

  get<T>(key: string): T | undefined {
    return this.held.get(key)?.value as T | undefined;
  }

  /** Keeps `value` under `key` until the run ends; one held before under the same key is closed first. */
  async hold<T>(key: string, value: T, close: (value: T) => Promise<void>): Promise<void> {
    const before = this.held.get(key);
    this.held.delete(key);
    await before?.close();
    this.held.set(key, { value, close: () => close(value) });
  }

  /** `${name}` replaced by published values; an unknown name is a suite problem that says which step publishes it. */
  expand(text: string, field: string): string {
    return text.replace(/\$\{([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)\}/g, (_, name: string) => {
      const value = this.vars.get(name);
      if (value === undefined) {
        const known = [...this.vars.keys()].join(", ") || "none yet";
        throw new LabError("SUITE_INVALID", `${field}: \${${name}} is not set (set so far: ${known}); an earlier ota.serve step with as: ${name.split(".")[0]} publishes it`);
      }
      return value;
    });
  }

  /** Closes everything held; the first failure is rethrown after all were tried. */
  async close(): Promise<void> {
    const all = [...this.held.values()];
    this.held.clear();
    const results = await Promise.allSettled(all.map((h) => h.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw new LabError("INTERNAL", `closing a run resource failed: ${(failed.reason as Error)?.message ?? String(failed.reason)}`, { cause: failed.reason });
  }
}
