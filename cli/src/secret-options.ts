import { readFileSync } from "node:fs";
import { UsageError } from "./main.js";

/*
 * Secrets never ride on a command line: any local user reads every process's argv in ps or
 * /proc/<pid>/cmdline. Services take them from the environment or from a file only their owner reads.
 */

/** `--redis` takes a URL without a password; one with a password is refused, saying where it goes instead. */
export function checkRedisUrlFlag(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError("--redis takes a redis:// or rediss:// URL");
  }
  if (parsed.password !== "" || parsed.username !== "") {
    throw new UsageError(
      "--redis must not carry credentials (any local user sees a command line in ps); put the URL in REDIS_URL or in a file only you can read and pass --redis-url-file FILE (or REDIS_URL_FILE)",
    );
  }
  return url;
}

/** A secret kept in a file (token, Redis URL with a password): its first line, trimmed. */
export function readSecretFile(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${what} from ${file}: ${(err as Error).message}`);
  }
  const value = text.split(/\r?\n/)[0]?.trim() ?? "";
  if (value === "") throw new UsageError(`${file} is empty; it should hold ${what}`);
  return value;
}
