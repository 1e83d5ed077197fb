import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export interface ClientConfig {
  url: string;
  token: string;
  /** Where the values came from, for error messages. */
  source: string;
}

/** Parses `KEY=value` lines (the lab writes HIL_URL and HIL_TOKEN there); `#` starts a comment. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim().replace(/^(["'])(.*)\1$/, "$2");
  }
  return out;
}

/** The nearest `.hil/lab.env` from `cwd` upwards. */
export function findLabEnv(cwd: string): string | undefined {
  let dir = resolve(cwd);
  for (;;) {
    const candidate = join(dir, ".hil", "lab.env");
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * `HIL_URL`/`HIL_TOKEN` from the environment win; what is missing comes from `.hil/lab.env`.
 * Returns the problems instead of throwing so the command can word them.
 */
export function loadClientConfig(
  env: NodeJS.ProcessEnv,
  cwd: string,
  overrides: { url?: string | undefined; token?: string | undefined } = {},
): ClientConfig | { missing: string } {
  let url = overrides.url ?? env.HIL_URL;
  let token = overrides.token ?? env.HIL_TOKEN;
  let source = "environment";
  if (!url || !token) {
    const file = findLabEnv(cwd);
    if (file) {
      const vars = parseEnvFile(readFileSync(file, "utf8"));
      url ??= vars.HIL_URL;
      token ??= vars.HIL_TOKEN;
      source = file;
    }
  }
  if (!url) return { missing: "no lab URL: set HIL_URL (or run `npm run lab`, which writes .hil/lab.env)" };
  if (!token) return { missing: "no token: set HIL_TOKEN (or run `npm run lab`, which writes .hil/lab.env)" };
  return { url, token, source };
}
