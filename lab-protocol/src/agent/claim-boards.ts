import type { Board, LabKeys } from "@hil/contracts";
import type { RedisClient } from "../redis/redis-client.js";
import { LuaScript } from "../lua-script.js";

/**
 * claim-boards (1 + n keys). An agent writes a board hash only when the board is free for it: the
 * hash is new, names no agent or this one, or names an agent that is gone (no liveness key) or that
 * reported the board offline. A live agent's board is left alone, so a second bench that sees a
 * board with the same id (a moved board, a copied configuration) waits instead of taking it over.
 * KEYS[1] boards set · KEYS[2..n+1] board hashes. ARGV[1] agent · [2] liveness key prefix
 * (`keys.agent("")`; the holder's key is built from it, same hash tag) · [3..n+2] board JSON.
 * Returns the 1-based indices of the boards it did not take.
 *
 * This is the agents' own courtesy; the scheduler does not rely on it. It moves a board to another
 * agent only on a verified board-changed event and by its own ownership rules (docs/security.md).
 */
const CLAIM_BOARDS = new LuaScript(`
local refused = {}
for i = 2, #KEYS do
  local cur = redis.call('HGET', KEYS[i], 'agent')
  local take = (not cur) or cur == '' or cur == ARGV[1]
  if not take then
    -- an agent whose Redis user may not read another agent's liveness key assumes it is alive
    local alive = redis.pcall('EXISTS', ARGV[2] .. cur)
    if type(alive) == 'table' then alive = 1 end
    if alive == 0 then
      take = true
    else
      local ok, b = pcall(cjson.decode, redis.call('HGET', KEYS[i], 'json') or '')
      take = (not ok) or type(b) ~= 'table' or b.state == 'offline'
    end
  end
  if take then
    local board = cjson.decode(ARGV[1 + i])
    redis.call('HSET', KEYS[i], 'json', ARGV[1 + i], 'agent', ARGV[1])
    redis.call('SADD', KEYS[1], board.id)
  else
    refused[#refused + 1] = i - 1
  end
end
return refused
`);

/** Writes the hashes of the boards free for `agent` (see above); returns the ids it left to another live agent. */
export async function claimBoards(redis: RedisClient, keys: LabKeys, agent: string, boards: readonly Board[]): Promise<string[]> {
  if (boards.length === 0) return [];
  const k = [keys.boards(), ...boards.map((b) => keys.board(b.id))];
  const refused = (await CLAIM_BOARDS.run(redis, k, [agent, keys.agent(""), ...boards.map((b) => JSON.stringify(b))])) as number[];
  return refused.map((i) => boards[i - 1]?.id).filter((id): id is string => id !== undefined);
}
