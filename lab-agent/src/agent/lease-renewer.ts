import type { LabKeys } from "@hil/contracts";
import type { Redis } from "ioredis";

/** What the agent needs from the scheduler's LeaseStore: extend held leases, learn which are gone. */
export interface LeaseRenewer {
  /** Extends every lease in `boardIds` still holding `token` to `ttlMs`; returns the board ids whose lease is lost. */
  renew(boardIds: string[], token: string, ttlMs: number): Promise<string[]>;
  /** True when every board's lease holds `token` (a job whose lease is gone was cancelled or reassigned). */
  holds(boardIds: string[], token: string): Promise<boolean>;
}

/*
 * KEYS: lease key per board. ARGV[1] = token, ARGV[2] = ttl ms.
 * Extends only leases whose JSON carries this token; returns the 1-based indexes of the lost ones.
 */
const RENEW_LEASES_LUA = `
local lost = {}
for i, key in ipairs(KEYS) do
  local raw = redis.call("GET", key)
  local ok = false
  if raw then
    local okDecode, lease = pcall(cjson.decode, raw)
    if okDecode and type(lease) == "table" and lease.token == ARGV[1] then
      redis.call("PEXPIRE", key, ARGV[2])
      ok = true
    end
  end
  if not ok then table.insert(lost, i) end
end
return lost
`;

/** The agent's own renewal against the lease JSON of the shared data model (`{ runId, attempt, token, agent }`). */
export class RedisLeaseRenewer implements LeaseRenewer {
  constructor(
    private readonly redis: Redis,
    private readonly keys: LabKeys,
  ) {}

  async renew(boardIds: string[], token: string, ttlMs: number): Promise<string[]> {
    if (boardIds.length === 0) return [];
    const keys = boardIds.map((id) => this.keys.lease(id));
    const lost = (await this.redis.eval(RENEW_LEASES_LUA, keys.length, ...keys, token, String(Math.round(ttlMs)))) as number[];
    return lost.map((i) => boardIds[i - 1]).filter((id): id is string => id !== undefined);
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
