import { LuaScript } from "@hil/lab-protocol";

/**
 * acquire-boards (8 + 4·n keys). Claims a pending run and leases ALL its boards, or nothing.
 * KEYS[1] pending zset · KEYS[2] run hash · KEYS[3] active-runs zset · KEYS[4] submitter usage hash ·
 * KEYS[5] the submitter's pending zset · KEYS[6] pending-submitters set (both leave with KEYS[1]) ·
 * KEYS[7] board-owners hash (scheduler-only) · KEYS[8] claim-intents zset (the claim is recorded there in
 * the same step, so a dispatcher that dies before enqueuing leaves something the reaper finds),
 * then per board i (base = 8 + 4·(i-1)): +1 lease key, +2 board hash, +3 board-bookings zset, +4 agent liveness key.
 * ARGV[1] run id · [2] now ms · [3] until ms (now + run timeout) · [4] submitter · [5] lease TTL ms ·
 * [6] booking key prefix (bookings live in the same {hash tag}) · [7] claim JSON · [8] agent that must own every board ·
 * [9] attempt number the caller expects (the run hash's `na`) · [10] lease JSON (the same for every board) ·
 * [11..10+n] board ids.
 * A board must be owned by the agent in the scheduler's own record, not only named by its (agent-written) hash.
 * The run a board's hash names as its `checkRun` (the lab's health check) may lease it while quarantined and
 * whatever its bookings say.
 * Returns {1} on success, else {0, board index (0 = the run itself), reason}.
 */
export const ACQUIRE_BOARDS = new LuaScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return {0, 0, 'not-pending'} end
if (redis.call('HGET', KEYS[2], 'na') or '1') ~= ARGV[9] then return {0, 0, 'stale-attempt'} end
local n = (#KEYS - 8) / 4
local now = tonumber(ARGV[2])
for i = 1, n do
  local b = 8 + (i - 1) * 4
  if redis.call('EXISTS', KEYS[b + 1]) == 1 then return {0, i, 'leased'} end
  local f = redis.call('HMGET', KEYS[b + 2], 'json', 'quarantined', 'agent', 'checkRun')
  if not f[1] then return {0, i, 'unregistered'} end
  local check = f[4] == ARGV[1]
  if f[2] == '1' and not check then return {0, i, 'quarantined'} end
  if f[3] ~= ARGV[8] then return {0, i, 'moved to another agent'} end
  if redis.call('HGET', KEYS[7], ARGV[10 + i]) ~= ARGV[8] then return {0, i, 'not owned by the agent'} end
  local st = cjson.decode(f[1]).state
  if st ~= 'idle' and st ~= 'leased' and st ~= 'booked' then return {0, i, 'agent reports ' .. tostring(st)} end
  if redis.call('EXISTS', KEYS[b + 4]) == 0 then return {0, i, 'agent not alive'} end
  local ids = check and {} or redis.call('ZRANGEBYSCORE', KEYS[b + 3], '-inf', '(' .. ARGV[3])
  for _, id in ipairs(ids) do
    local raw = redis.call('GET', ARGV[6] .. id)
    if raw then
      local bk = cjson.decode(raw)
      if bk.state ~= 'released' and tonumber(bk['end']) > now and bk.holder ~= ARGV[4] then
        return {0, i, 'booked:' .. id}
      end
    end
  end
end
for i = 1, n do
  redis.call('SET', KEYS[8 + (i - 1) * 4 + 1], ARGV[10], 'PX', ARGV[5])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('ZCARD', KEYS[5]) == 0 then redis.call('SREM', KEYS[6], ARGV[4]) end
redis.call('HSET', KEYS[2], 'claim', ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
redis.call('ZADD', KEYS[8], ARGV[2], ARGV[1])
return {1}
`);

/**
 * settle-claim (3 + n keys). Ends a claim the dispatcher never marked on the run (the run changed under it:
 * cancelled, or given back by the reaper), or only forgets its intent (`drop`: the run was marked and enqueued).
 * Whoever removes the intent owns the undo, so the submitter's usage drops once however many callers race.
 * KEYS[1] claim-intents zset · KEYS[2] run hash · KEYS[3] submitter usage hash · KEYS[4..] the claim's lease keys.
 * ARGV[1] run id · [2] the claim's time (the intent's score) · [3] the claim's plaintext token · [4] submitter ·
 * [5] "settle" | "drop".
 * Returns 1 when this call removed the intent, else 0.
 */
export const SETTLE_CLAIM = new LuaScript(`
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at or tonumber(at) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[5] ~= 'settle' then return 1 end
local th = redis.sha1hex(ARGV[3])
for i = 4, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if raw and cjson.decode(raw).tokenHash == th then redis.call('DEL', KEYS[i]) end
end
redis.call('HINCRBY', KEYS[3], ARGV[4], -1)
return 1
`);

/**
 * abandon-claim (7 + n keys). Puts a claimed run that was never marked leased back in pending: its leases
 * and usage go, the claim is deleted and the version bumps, so a dispatcher still holding the claim fails
 * its compare-and-set and cannot mark the run leased afterwards.
 * KEYS[1] claim-intents zset · KEYS[2] run hash · KEYS[3] submitter usage hash · KEYS[4] pending zset ·
 * KEYS[5] the submitter's pending zset · KEYS[6] pending-submitters set · KEYS[7] active-runs zset ·
 * KEYS[8..] the claim's lease keys.
 * ARGV[1] run id · [2] the claim's time · [3] the claim's plaintext token · [4] submitter ·
 * [5] the run version the caller read (state queued, claim not marked) · [6] pending score.
 * Returns 1 when the run went back to pending, else 0 (someone changed it first).
 */
export const ABANDON_CLAIM = new LuaScript(`
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at or tonumber(at) ~= tonumber(ARGV[2]) then return 0 end
if (redis.call('HGET', KEYS[2], 'ver') or '0') ~= ARGV[5] then return 0 end
local raw = redis.call('HGET', KEYS[2], 'claim')
if not raw or cjson.decode(raw).token ~= ARGV[3] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local th = redis.sha1hex(ARGV[3])
for i = 8, #KEYS do
  local l = redis.call('GET', KEYS[i])
  if l and cjson.decode(l).tokenHash == th then redis.call('DEL', KEYS[i]) end
end
redis.call('HINCRBY', KEYS[3], ARGV[4], -1)
redis.call('HDEL', KEYS[2], 'claim')
redis.call('HSET', KEYS[2], 'ver', tostring(tonumber(ARGV[5]) + 1))
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[4])
redis.call('ZREM', KEYS[7], ARGV[1])
return 1
`);
