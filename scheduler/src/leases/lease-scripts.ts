import { LuaScript } from "./lua-script.js";

/**
 * acquire-boards (6 + 4·n keys). Claims a pending run and leases ALL its boards, or nothing.
 * KEYS[1] pending zset · KEYS[2] run hash · KEYS[3] active-runs zset · KEYS[4] submitter usage hash ·
 * KEYS[5] the submitter's pending zset · KEYS[6] pending-submitters set (both leave with KEYS[1]),
 * then per board i (base = 6 + 4·(i-1)): +1 lease key, +2 board hash, +3 board-bookings zset, +4 agent liveness key.
 * ARGV[1] run id · [2] now ms · [3] until ms (now + run timeout) · [4] submitter · [5] lease TTL ms ·
 * [6] booking key prefix (bookings live in the same {hash tag}) · [7] claim JSON · [8] agent that must own every board ·
 * [9] attempt number the caller expects (the run hash's `na`) · [10..] lease JSON per board.
 * Returns {1} on success, else {0, board index (0 = the run itself), reason}.
 */
export const ACQUIRE_BOARDS = new LuaScript(`
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false then return {0, 0, 'not-pending'} end
if (redis.call('HGET', KEYS[2], 'na') or '1') ~= ARGV[9] then return {0, 0, 'stale-attempt'} end
local n = (#KEYS - 6) / 4
local now = tonumber(ARGV[2])
for i = 1, n do
  local b = 6 + (i - 1) * 4
  if redis.call('EXISTS', KEYS[b + 1]) == 1 then return {0, i, 'leased'} end
  local f = redis.call('HMGET', KEYS[b + 2], 'json', 'quarantined', 'agent')
  if not f[1] then return {0, i, 'unregistered'} end
  if f[2] == '1' then return {0, i, 'quarantined'} end
  if f[3] ~= ARGV[8] then return {0, i, 'moved to another agent'} end
  local st = cjson.decode(f[1]).state
  if st ~= 'idle' and st ~= 'leased' and st ~= 'booked' then return {0, i, 'agent reports ' .. tostring(st)} end
  if redis.call('EXISTS', KEYS[b + 4]) == 0 then return {0, i, 'agent not alive'} end
  local ids = redis.call('ZRANGEBYSCORE', KEYS[b + 3], '-inf', '(' .. ARGV[3])
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
  redis.call('SET', KEYS[6 + (i - 1) * 4 + 1], ARGV[9 + i], 'PX', ARGV[5])
end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('ZCARD', KEYS[5]) == 0 then redis.call('SREM', KEYS[6], ARGV[4]) end
redis.call('HSET', KEYS[2], 'claim', ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('HINCRBY', KEYS[4], ARGV[4], 1)
return {1}
`);

/**
 * renew-leases (n keys): extends the leases that still hold the token.
 * KEYS lease keys · ARGV[1] token · ARGV[2] TTL ms. Returns the 1-based indices of leases lost.
 */
export const RENEW_LEASES = new LuaScript(`
local lost = {}
for i, k in ipairs(KEYS) do
  local raw = redis.call('GET', k)
  if raw and cjson.decode(raw).token == ARGV[1] then
    redis.call('PEXPIRE', k, ARGV[2])
  else
    lost[#lost + 1] = i
  end
end
return lost
`);

/**
 * release-leases (n keys): deletes the leases that still hold the token (never someone else's).
 * KEYS lease keys · ARGV[1] token. Returns how many were deleted.
 */
export const RELEASE_LEASES = new LuaScript(`
local n = 0
for _, k in ipairs(KEYS) do
  local raw = redis.call('GET', k)
  if raw and cjson.decode(raw).token == ARGV[1] then
    redis.call('DEL', k)
    n = n + 1
  end
end
return n
`);
