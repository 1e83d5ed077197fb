import type { RedisClient } from "@hil/lab-protocol/redis";
import type { ChangeEvent, LabKeys } from "@hil/contracts";

/**
 * Tells whoever listens (the dashboard gateway) that a run, booking or board changed. Best effort: a lost
 * notice costs a page a refresh, never a state change, so a failed PUBLISH is not an error of the caller.
 */
export function publishChange(redis: RedisClient, keys: LabKeys, change: ChangeEvent): void {
  redis.publish(keys.changesChannel(), JSON.stringify(change)).catch(() => {});
}
