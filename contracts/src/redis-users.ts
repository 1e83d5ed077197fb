/**
 * Redis ACL user names. An agent logs in as its own user, whose password is the agent's API token
 * (role agent, named after the agent); the scheduler creates it from the token's stored SHA-256.
 * Schedulers of a Redis run by someone else log in as `hil-scheduler` (see docs/security.md).
 */
export const SCHEDULER_REDIS_USER = "hil-scheduler";

export function agentRedisUser(namespace: string, agent: string): string {
  return `hil-agent-${namespace}-${agent}`;
}
