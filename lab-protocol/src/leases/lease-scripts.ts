import { LuaScript } from "../lua-script.js";

/**
 * renew-leases (n keys): extends the leases that still hold the token.
 * KEYS lease keys · ARGV[1] plaintext token · ARGV[2] TTL ms. Returns the 1-based indices of leases lost.
 * The lease stores only the token's SHA-1 (see lease.ts); the script hashes what it is given.
 */
export const RENEW_LEASES = new LuaScript(`
local h = redis.sha1hex(ARGV[1])
local lost = {}
for i, k in ipairs(KEYS) do
  local raw = redis.call('GET', k)
  local ok, lease = pcall(cjson.decode, raw or '')
  if raw and ok and type(lease) == 'table' and lease.tokenHash == h then
    redis.call('PEXPIRE', k, ARGV[2])
  else
    lost[#lost + 1] = i
  end
end
return lost
`);

/**
 * release-leases (n keys): deletes the leases that still hold the token (never someone else's).
 * KEYS lease keys · ARGV[1] plaintext token. Returns how many were deleted.
 */
export const RELEASE_LEASES = new LuaScript(`
local h = redis.sha1hex(ARGV[1])
local n = 0
for _, k in ipairs(KEYS) do
  local raw = redis.call('GET', k)
  local ok, lease = pcall(cjson.decode, raw or '')
  if raw and ok and type(lease) == 'table' and lease.tokenHash == h then
    redis.call('DEL', k)
    n = n + 1
  end
end
return n
`);
