import type { RedisClient } from "@hil/lab-protocol/redis";
import { LuaScript } from "@hil/lab-protocol";
import { compareStreamIds } from "./log-stream.js";

/**
 * The archive files' format (a run's long log, a board's day files): one stream entry per line,
 * `{"id":"<stream entry id>","json":"<the entry's json field>"}`, appended as the stream is copied.
 */
export function archiveRows(batch: readonly [string, string[]][]): string {
  return batch.map(([id, fields]) => JSON.stringify({ id, json: fields[fields.indexOf("json") + 1] ?? null })).join("\n") + "\n";
}

/**
 * The entries of an archive file in file order: `null` for a row that is not JSON (a write a full disk cut short),
 * rows without an id left out. A range copied twice appears twice; readers keep ids that increase.
 */
export function* readArchiveRows(raw: string): Generator<{ id: string; json: string | undefined } | null> {
  for (const row of raw.split("\n")) {
    if (!row) continue;
    let entry: { id?: unknown; json?: unknown };
    try {
      entry = JSON.parse(row) as { id?: unknown; json?: unknown };
    } catch {
      yield null;
      continue;
    }
    if (typeof entry.id !== "string") continue;
    yield { id: entry.id, json: typeof entry.json === "string" ? entry.json : undefined };
  }
}

/**
 * The archived entries in stream order, each once, however the rows were appended: two sweeps that overlap (two
 * replicas, or one stalled behind a Redis freeze while the next began) may append their copies in either order,
 * so file order is not stream order. `bad` counts rows that are not JSON.
 */
export function archivedInOrder(raws: readonly string[]): { entries: { id: string; json: string | undefined }[]; bad: number } {
  const byId = new Map<string, { id: string; json: string | undefined }>();
  let bad = 0;
  for (const raw of raws) {
    for (const entry of readArchiveRows(raw)) {
      if (!entry) bad++;
      else if (!byId.has(entry.id)) byId.set(entry.id, entry);
    }
  }
  return { entries: [...byId.values()].sort((a, b) => compareStreamIds(a.id, b.id)), bad };
}

/** KEYS[1] hash · ARGV[1] field · ARGV[2] stream id: set only when it is past the stored one, so a mark never moves back. */
const RAISE_MARK = new LuaScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local function parts(id)
  local ms, n = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms) or 0, tonumber(n) or 0
end
if cur then
  local cm, cn = parts(cur)
  local nm, nn = parts(ARGV[2])
  if nm < cm or (nm == cm and nn <= cn) then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`);

/** How far an archive reaches (`hash[field]`), moved forward only: a slow sweep finishing last cannot pull it back. */
export async function raiseArchiveMark(redis: RedisClient, hash: string, field: string, id: string): Promise<void> {
  await RAISE_MARK.run(redis, [hash], [field, id]);
}
