import { LAB_COMMAND_DONE, type LabKeys } from "@hil/contracts";
import { LuaScript } from "@hil/lab-protocol";
import type { RedisClient } from "@hil/lab-protocol/redis";

/**
 * swap-field (1 key): KEYS[1] board hash. ARGV[1] field · [2] the value the caller read ("" = absent) ·
 * [3] the new value ("" = delete). Returns 1 when this call made the change: of two scheduler replicas
 * acting on the same ladder state, one goes on and the other leaves it.
 */
export const SWAP_FIELD = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if cur ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
`);

/** Board log lines read back when looking for the agent's answer to a step. */
const ACK_SCAN = 300;

/**
 * The agent's closing line for a lab command (`LAB_COMMAND_DONE`, written by BoardConsoles into the board's log),
 * looked for among the board's latest log lines; undefined while the agent has not answered.
 */
export async function findLabCommandAnswer(redis: RedisClient, keys: LabKeys, boardId: string, command: string): Promise<{ ok: boolean; detail: string } | undefined> {
  const entries = await redis.xrevrange(keys.boardLog(boardId), "+", "-", "COUNT", ACK_SCAN);
  for (const [, fields] of entries) {
    const i = fields.indexOf("json");
    if (i < 0) continue;
    let text: unknown;
    try {
      text = (JSON.parse(fields[i + 1] ?? "") as { text?: unknown }).text;
    } catch {
      continue;
    }
    if (typeof text !== "string") continue;
    const m = LAB_COMMAND_DONE.exec(text);
    if (m && m[1] === command) return { ok: m[3] === "finished", detail: m[4] ?? "" };
  }
  return undefined;
}
