import type { RedisClient } from "@hil/lab-protocol/redis";
import { BOARD_HISTORY_MAX, BoardHistoryEntrySchema, type BoardHistoryEntry, type LabKeys } from "@hil/contracts";

/**
 * A board's health history (infrastructure failures, recovery steps, health checks, quarantine and return):
 * a Redis list per board, newest first, trimmed to BOARD_HISTORY_MAX in the same step as each push.
 */
export class BoardHistory {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    private readonly max = BOARD_HISTORY_MAX,
  ) {}

  async add(boardId: string, entry: Omit<BoardHistoryEntry, "at"> & { at?: number }): Promise<BoardHistoryEntry> {
    const full: BoardHistoryEntry = { at: entry.at ?? Date.now(), kind: entry.kind, detail: entry.detail.slice(0, 2000) };
    if (entry.outcome !== undefined) full.outcome = entry.outcome;
    if (entry.run !== undefined) full.run = entry.run;
    const key = this.keys.boardHistory(boardId);
    await this.redis.multi().lpush(key, JSON.stringify(full)).ltrim(key, 0, this.max - 1).exec();
    return full;
  }

  /** Newest first; an entry that does not parse is skipped (the list is the scheduler's own, but never trusted blindly). */
  async list(boardId: string, limit = 50): Promise<BoardHistoryEntry[]> {
    const raw = await this.redis.lrange(this.keys.boardHistory(boardId), 0, Math.max(0, Math.min(limit, this.max) - 1));
    const out: BoardHistoryEntry[] = [];
    for (const r of raw) {
      try {
        const parsed = BoardHistoryEntrySchema.safeParse(JSON.parse(r));
        if (parsed.success) out.push(parsed.data);
      } catch {
        // not JSON: skipped
      }
    }
    return out;
  }
}
