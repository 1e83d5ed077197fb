import { agentRedisUser } from "@hil/contracts";
import { redisUrlHasCredentials, redisUrlProblem } from "@hil/lab-protocol/redis";
import type { AgentConfig } from "./config.js";

/** How an agent logs in to Redis: as its own ACL user, or as the URL says. */
export interface RedisLogin {
  /** The ACL user, when the agent logs in as one. */
  readonly user?: string;
  /** ioredis options added to the URL (which names no credentials when these are set). */
  readonly options: { username?: string; password?: string };
}

export function urlHasCredentials(url: string): boolean {
  return redisUrlProblem(url) === undefined && redisUrlHasCredentials(url);
}

/**
 * `auto`: with a token and a URL without credentials, the agent is `hil-agent-<ns>-<name>` and its
 * token is the password (the scheduler made that user from the token's hash); a URL that names a
 * password wins, so an operator who hands out the shared password keeps working as before.
 */
export function redisLogin(config: Pick<AgentConfig, "redisUrl" | "redisAcl" | "token" | "namespace" | "name">): RedisLogin {
  if (config.redisAcl === "off" || config.token === undefined || urlHasCredentials(config.redisUrl)) return { options: {} };
  const user = agentRedisUser(config.namespace, config.name);
  return { user, options: { username: user, password: config.token } };
}

/** What to tell the operator when Redis refuses the agent's login or a command. */
export function redisLoginHint(login: RedisLogin, err: Error): string | undefined {
  const msg = err.message;
  if (login.user !== undefined && /WRONGPASS|NOAUTH/.test(msg)) {
    return (
      `Redis refused the agent's user ${login.user} with this token (${msg.split("\n")[0]}). ` +
      "The scheduler creates that user from an agent token named after the agent: `hil tokens create --role agent --name <agent>` " +
      "(or HIL_TOKENS=<agent>:agent:SECRET on the scheduler) with HIL_REDIS_ACL=auto; or give the Redis password in REDIS_URL and set HIL_REDIS_ACL=off."
    );
  }
  if (login.user === undefined && /NOAUTH|WRONGPASS/.test(msg)) {
    return `Redis wants credentials (${msg.split("\n")[0]}): set HIL_TOKEN to the agent's token (role agent) or put the password in REDIS_URL / REDIS_URL_FILE.`;
  }
  return undefined;
}
