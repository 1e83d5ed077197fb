import type { RedisClient } from "../redis/redis-client.js";
import type { LabKeys } from "@hil/contracts";
import { leaseTokenHash, parseLease, type Lease } from "./lease.js";
import { RELEASE_LEASES, RENEW_LEASES } from "./lease-scripts.js";

/**
 * Board leases in Redis, the part both sides use: agents renew the leases of the runs they execute
 * and drop a job whose lease is gone; the scheduler releases them (it acquires with its own script).
 */
export class LeaseStore {
  constructor(
    protected readonly redis: RedisClient,
    protected readonly keys: LabKeys,
  ) {}

  /** Extends the leases still holding `token`; returns the board ids whose lease was lost. */
  async renew(boardIds: readonly string[], token: string, ttlMs: number): Promise<string[]> {
    if (boardIds.length === 0) return [];
    const lost = (await RENEW_LEASES.run(this.redis, boardIds.map((id) => this.keys.lease(id)), [token, Math.round(ttlMs)])) as number[];
    return lost.map((i) => boardIds[i - 1]).filter((id): id is string => id !== undefined);
  }

  /** Deletes the leases that still hold `token`; returns how many were deleted. */
  async release(boardIds: readonly string[], token: string): Promise<number> {
    if (boardIds.length === 0) return 0;
    return (await RELEASE_LEASES.run(this.redis, boardIds.map((id) => this.keys.lease(id)), [token])) as number;
  }

  /** True when every board's lease holds `token` (a job whose lease is gone was cancelled or reassigned). */
  async holds(boardIds: readonly string[], token: string): Promise<boolean> {
    if (boardIds.length === 0) return false;
    const hash = leaseTokenHash(token);
    return (await this.getMany(boardIds)).every((l) => l?.tokenHash === hash);
  }

  async get(boardId: string): Promise<Lease | undefined> {
    return parseLease(await this.redis.get(this.keys.lease(boardId)));
  }

  async getMany(boardIds: readonly string[]): Promise<(Lease | undefined)[]> {
    if (boardIds.length === 0) return [];
    const raws = await this.redis.mget(...boardIds.map((id) => this.keys.lease(id)));
    return raws.map((r) => parseLease(r));
  }
}
