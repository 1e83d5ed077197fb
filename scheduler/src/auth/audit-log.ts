import type { RedisClient } from "@hil/lab-protocol/redis";
import { decodeJson, type LabKeys } from "@hil/contracts";
import { z } from "zod";

export const AuditEntrySchema = z
  .object({
    at: z.number().int(),
    actor: z.string(),
    role: z.string(),
    action: z.string(),
    /** What was acted on: a token id, board id, run id, booking id or user name. */
    target: z.string().optional(),
    detail: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

export interface AuditQuery {
  limit: number;
  actor?: string;
  action?: string;
  target?: string;
  /** Only entries before this stream id (paging backwards). */
  before?: string;
}

/**
 * Who did what, in a Redis stream capped at `max` entries (approximately: MAXLEN ~ keeps trimming cheap).
 * Writing never fails the action it records: a lost audit line is logged, the action stands.
 */
export class AuditLog {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    private readonly max: number,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  async record(entry: Omit<AuditEntry, "at"> & { at?: number }): Promise<void> {
    const full: AuditEntry = { ...entry, at: entry.at ?? Date.now() };
    try {
      await this.redis.xadd(this.keys.audit(), "MAXLEN", "~", this.max, "*", "json", JSON.stringify(full));
    } catch (err) {
      this.onError(err as Error);
    }
  }

  /** Newest first. */
  async read(q: AuditQuery): Promise<{ entries: (AuditEntry & { id: string })[]; next?: string }> {
    const out: (AuditEntry & { id: string })[] = [];
    let end = q.before ? `(${q.before}` : "+";
    // filters are applied here, so read in pages until enough entries match or the stream ends
    for (let pages = 0; out.length < q.limit && pages < 50; pages++) {
      const page = (await this.redis.xrevrange(this.keys.audit(), end, "-", "COUNT", 500)) as [string, string[]][];
      if (page.length === 0) return { entries: out };
      for (const [id, fields] of page) {
        end = `(${id}`;
        const i = fields.indexOf("json");
        const e = decodeJson(AuditEntrySchema, fields[i + 1]);
        if (!e) continue;
        if ((q.actor && e.actor !== q.actor) || (q.action && e.action !== q.action) || (q.target && e.target !== q.target)) continue;
        out.push({ id, ...e });
        if (out.length >= q.limit) return { entries: out, next: id };
      }
      if (page.length < 500) return { entries: out };
    }
    return { entries: out };
  }
}
