import type { LabKeys } from "@hil/contracts";
import type { RedisClient } from "../redis/redis-client.js";
import { EVENTS_MAXLEN, type SignedEvent } from "../events/event-writer.js";
import { LuaScript } from "../lua-script.js";

/**
 * start-job (1 + 2n keys). Starts a job only if every lease still carries its token: boards marked
 * running and the signed job-started appended in one step, so a cancelled or reassigned job leaves
 * no trace.
 * KEYS[1] events stream · KEYS[2..n+1] lease keys · KEYS[n+2..2n+1] board hashes.
 * ARGV[1] plaintext lease token (compared by SHA-1 with the lease's tokenHash) · [2] event JSON ·
 * [3] signing agent · [4] signature · [5] events MAXLEN · [6..n+5] board JSON (state running).
 * Returns 1, or 0 when a lease is gone or holds another token.
 */
const START_JOB = new LuaScript(`
local n = (#KEYS - 1) / 2
local h = redis.sha1hex(ARGV[1])
for i = 1, n do
  local raw = redis.call('GET', KEYS[1 + i])
  if not raw then return 0 end
  local ok, lease = pcall(cjson.decode, raw)
  if not ok or type(lease) ~= 'table' or lease.tokenHash ~= h then return 0 end
end
for i = 1, n do
  redis.call('HSET', KEYS[1 + n + i], 'json', ARGV[5 + i])
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', 'json', ARGV[2], 'agent', ARGV[3], 'sig', ARGV[4])
return 1
`);

export interface StartJobRequest {
  boardIds: readonly string[];
  /** The board JSON to write for each board, same order. */
  boardJson: readonly string[];
  leaseToken: string;
  /** The signed job-started event. */
  event: SignedEvent;
}

/** True when the job started (boards running, job-started appended); false when its leases are gone. */
export async function startJob(redis: RedisClient, keys: LabKeys, req: StartJobRequest): Promise<boolean> {
  if (req.boardIds.length === 0 || req.boardIds.length !== req.boardJson.length) return false;
  const k = [keys.events(), ...req.boardIds.map((id) => keys.lease(id)), ...req.boardIds.map((id) => keys.board(id))];
  const args = [req.leaseToken, req.event.json, req.event.agent, req.event.sig, EVENTS_MAXLEN, ...req.boardJson];
  return (await START_JOB.run(redis, k, args)) === 1;
}
