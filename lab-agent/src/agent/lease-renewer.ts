import type { LabKeys } from "@hil/contracts";
import { LeaseStore } from "@hil/lab-protocol";
import type { RedisClient } from "@hil/lab-protocol/redis";

/** What the agent needs from the leases: extend held ones, learn which are gone. */
export interface LeaseRenewer {
  /** Extends every lease in `boardIds` still holding `token` to `ttlMs`; returns the board ids whose lease is lost. */
  renew(boardIds: string[], token: string, ttlMs: number): Promise<string[]>;
  /** True when every board's lease holds `token` (a job whose lease is gone was cancelled or reassigned). */
  holds(boardIds: string[], token: string): Promise<boolean>;
}

/** Renewal through the lease store both sides share (@hil/lab-protocol: one Lua script, token compared by hash). */
export class RedisLeaseRenewer implements LeaseRenewer {
  private readonly store: LeaseStore;

  constructor(redis: RedisClient, keys: LabKeys) {
    this.store = new LeaseStore(redis, keys);
  }

  renew(boardIds: string[], token: string, ttlMs: number): Promise<string[]> {
    return this.store.renew(boardIds, token, ttlMs);
  }

  holds(boardIds: string[], token: string): Promise<boolean> {
    return this.store.holds(boardIds, token);
  }
}
