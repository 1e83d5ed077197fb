import type { RedisClient } from "@hil/lab-protocol/redis";
import type { LabKeys } from "@hil/contracts";
import { LuaScript } from "@hil/lab-protocol";

/**
 * claim-board-owner (1 key): KEYS[1] board-owners hash. ARGV[1] board id · [2] agent · [3] liveness key
 * prefix (`keys.agent("")`, same hash tag; the current owner's key is built from it).
 * The board goes to the agent when it has no owner, is already the agent's, or its owner is not alive.
 * Returns {1} when the agent owns it now, else {0, current owner}.
 */
const CLAIM_OWNER = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and cur ~= ARGV[2] and redis.call('EXISTS', ARGV[3] .. cur) == 1 then return {0, cur} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {1}
`);

/**
 * release-board-owner (1 key): KEYS[1] board-owners hash. ARGV[1] board id · [2] agent.
 * Forgets the owner only if it is still that agent. Returns 1 when it did.
 */
const RELEASE_OWNER = new LuaScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`);

export type OwnerClaim = { ok: true } | { ok: false; owner: string };

/**
 * Which agent a board belongs to, in the scheduler's own record (`keys.boardOwners()`). Board hashes are
 * written by agents, so a hash naming an agent proves nothing; this record changes only when the
 * scheduler applies a board-changed event it verified, and only by these rules:
 * - a board nobody owns goes to the first agent that announces it;
 * - an owned board moves only when its owner is not alive, or after its owner reported it gone or
 *   offline (which forgets the owner), or when an admin clears it.
 */
export class BoardOwners {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
  ) {}

  async claim(boardId: string, agent: string): Promise<OwnerClaim> {
    const res = (await CLAIM_OWNER.run(this.redis, [this.keys.boardOwners()], [boardId, agent, this.keys.agent("")])) as [number, string?];
    return res[0] === 1 ? { ok: true } : { ok: false, owner: String(res[1] ?? "") };
  }

  /** The owner reported the board gone or offline: the next agent to announce it may take it. */
  async release(boardId: string, agent: string): Promise<boolean> {
    return (await RELEASE_OWNER.run(this.redis, [this.keys.boardOwners()], [boardId, agent])) === 1;
  }

  /**
   * An admin's decision (a board moved benches while its old agent still runs): the board is nobody's,
   * and its hash names no agent, so the next agent that has it registers and announces it. Returns the
   * owner it had.
   */
  async clear(boardId: string): Promise<string | undefined> {
    const res = await this.redis
      .multi()
      .hget(this.keys.boardOwners(), boardId)
      .hdel(this.keys.boardOwners(), boardId)
      .hdel(this.keys.board(boardId), "agent")
      .exec();
    const owner = res?.[0]?.[1];
    return typeof owner === "string" ? owner : undefined;
  }

  async get(boardId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.keys.boardOwners(), boardId)) ?? undefined;
  }

  async all(): Promise<Record<string, string>> {
    return this.redis.hgetall(this.keys.boardOwners());
  }
}
