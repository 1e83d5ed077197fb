import { readSecretFile } from "@hil/lab-agent";
import { redisUrlHasCredentials, redisUrlProblem } from "@hil/scheduler/redis";
import { UsageError } from "@hil/contracts";

/*
 * Secrets never ride on a command line: any local user reads every process's argv in ps or
 * /proc/<pid>/cmdline. Services take them from the environment or from a file only their owner reads.
 */

/** `--redis` takes a URL without a password; one with a password is refused, saying where it goes instead. */
export function checkRedisUrlFlag(url: string): string {
  const problem = redisUrlProblem(url);
  if (problem !== undefined) throw new UsageError(`--redis: ${problem} (docs/redis.md)`);
  if (redisUrlHasCredentials(url)) {
    throw new UsageError(
      "--redis must not carry credentials (any local user sees a command line in ps); put the URL in REDIS_URL or in a file only you can read and pass --redis-url-file FILE (or REDIS_URL_FILE)",
    );
  }
  return url;
}


/** The options `hil scheduler` and `hil dashboard` share, as they reach the scheduler's configuration. */
export interface ServiceOptions {
  host?: string;
  redis?: string;
  redisUrlFile?: string;
  tokenFile?: string;
  namespace?: string;
}

/** Applies the shared service options to a copy of `env` (secrets only from files), ready for loadSchedulerConfig. */
export function serviceEnv(opts: ServiceOptions, env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  if (opts.host !== undefined) out["HIL_HOST"] = opts.host;
  if (opts.redis !== undefined && opts.redisUrlFile !== undefined) throw new UsageError("give --redis or --redis-url-file, not both");
  if (opts.redis !== undefined) out["REDIS_URL"] = checkRedisUrlFlag(opts.redis);
  if (opts.redisUrlFile !== undefined) out["REDIS_URL"] = readSecretFile(opts.redisUrlFile, "the Redis URL");
  if (opts.tokenFile !== undefined) {
    delete out["HIL_ADMIN_TOKEN"];
    out["HIL_ADMIN_TOKEN_FILE"] = opts.tokenFile;
  }
  if (opts.namespace !== undefined) out["HIL_NAMESPACE"] = opts.namespace;
  return out;
}
