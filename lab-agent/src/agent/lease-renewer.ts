import type { LabKeys } from "@hil/contracts";
import { LeaseStore } from "@hil/scheduler";
import type { Redis } from "ioredis";

/** What the agent needs from the scheduler's leases: extend held ones, learn which are gone. */
export interface LeaseRenewer {
  /** Extends every lease in `boardIds` still holding `token` to `ttlMs`; returns the board ids whose lease is lost. */
  renew(boardIds: string[], token: string, ttlMs: number): Promise<string[]>;
  /** True when every board's lease holds `token` (a job whose lease is gone was cancelled or reassigned). */
  holds(boardIds: string[], token: string): Promise<boolean>;
}

/** Renewal through the scheduler's own `LeaseStore` (one Lua script, shared with the scheduler). */
export class RedisLeaseRenewer implements LeaseRenewer {
  private readonly store: LeaseStore;

  constructor(
    private readonly redis: Redis,
    private readonly keys: LabKeys,
  ) {
    this.store = new LeaseStore(redis, keys);
  }

  renew(boardIds: string[], token: string, ttlMs: number): Promise<string[]> {
    return this.store.renew(boardIds, token, ttlMs);
  }

  async holds(boardIds: string[], token: string): Promise<boolean> {
    if (boardIds.length === 0) return false;
    const raws = await this.redis.mget(...boardIds.map((id) => this.keys.lease(id)));
    return raws.every((raw) => raw !== null && leaseToken(raw) === token);
  }
}

function leaseToken(raw: string): string | undefined {
  try {
    const lease: unknown = JSON.parse(raw);
    if (typeof lease === "object" && lease !== null && "token" in lease && typeof lease.token === "string") return lease.token;
  } catch {
    // A lease we cannot read is not ours.
  }
  return undefined;
}
