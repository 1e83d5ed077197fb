import { duplicateClient, type RedisClient } from "@hil/lab-protocol/redis";

type RawEntries = [string, string[]][];

/** One entry of a log stream: its stream id (the resume cursor) and the LogLine JSON as stored. */
export interface StreamEntry {
  readonly id: string;
  readonly json: string;
}

/** Board log entries have id `<seq>-0`; run log entries have Redis-made ids (`<ms>-<n>`). */
export function seqOf(id: string): number {
  return Number(id.split("-")[0]);
}

/** Orders two stream ids (`<ms>-<n>`) numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am = "0", an = "0"] = a.split("-");
  const [bm = "0", bn = "0"] = b.split("-");
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const n = BigInt(an) - BigInt(bn);
  return n === 0n ? 0 : n < 0n ? -1 : 1;
}

/** Entries without a `json` field are skipped (nothing to show), but their id still moves the cursor. */
export function decodeEntries(raw: RawEntries): StreamEntry[] {
  const out: StreamEntry[] = [];
  for (const [id, fields] of raw) {
    const i = fields.indexOf("json");
    const json = i >= 0 ? fields[i + 1] : undefined;
    out.push({ id, json: json ?? "" });
  }
  return out;
}

/**
 * Reads the entries after `afterId` (exclusive; undefined = from the start) up to `untilId` (inclusive; default the end),
 * page by page, handing each page to `onPage`. Resolves with the id of the last entry read (or `afterId`).
 */
export async function readAfter(
  redis: RedisClient,
  key: string,
  afterId: string | undefined,
  onPage: (entries: StreamEntry[]) => void,
  opts: { untilId?: string; pageSize?: number } = {},
): Promise<string | undefined> {
  const pageSize = opts.pageSize ?? 1000;
  let last = afterId;
  for (;;) {
    const batch = (await redis.xrange(key, last === undefined ? "-" : `(${last}`, opts.untilId ?? "+", "COUNT", pageSize)) as RawEntries;
    const entries = decodeEntries(batch);
    if (entries.length > 0) {
      last = entries[entries.length - 1]?.id;
      onPage(entries);
    }
    if (batch.length < pageSize) return last;
  }
}

/** The newest `count` entries, oldest first. */
export async function readTail(redis: RedisClient, key: string, count: number): Promise<StreamEntry[]> {
  // Redis 7.0 answers COUNT 0 on a non-empty stream with nil, not an empty list (a join with `tail: 0`)
  if (count <= 0) return [];
  const batch = (await redis.xrevrange(key, "+", "-", "COUNT", count)) as RawEntries;
  return decodeEntries(batch.reverse());
}

/** A read that returns this many entries (over all streams) makes a StreamFollower wait its full `minIntervalMs`. */
const PACE_FULL_AT = 100;

/** A stream followed by a StreamFollower: it reads after `lastId` and hands new entries to `deliver`, which must advance `lastId`. */
export interface StreamWatcher {
  readonly key: string;
  readonly lastId: string;
  deliver(entries: StreamEntry[]): void;
}

/**
 * Follows many streams with one blocking connection: a single `XREAD BLOCK` over every watched key, each from its
 * watcher's `lastId`. A watcher added while the read blocks is included in the next read (at most `blockMs` later);
 * it misses nothing, because the next read starts at its `lastId`.
 */
export class StreamFollower {
  private readonly watchers = new Map<string, StreamWatcher>();
  private conn: RedisClient | undefined;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly opts: {
      blockMs?: number;
      count?: number;
      /**
       * Under a steady flow the next read starts no sooner than this after the previous one began, so each watcher
       * gets fewer, larger batches (a fan-out pays per batch, not per line). The pause scales with what the read
       * returned: the full interval from PACE_FULL_AT entries on, next to nothing for a line or two, so a line on a
       * quiet stream is not held back. Default 0.
       */
      minIntervalMs?: number;
      onError?: (err: Error) => void;
    } = {},
  ) {}

  /** Blocking connections this follower holds (0 or 1). */
  get connections(): number {
    return this.conn ? 1 : 0;
  }

  get watching(): number {
    return this.watchers.size;
  }

  watch(w: StreamWatcher): () => void {
    if (this.watchers.has(w.key)) throw new Error(`stream ${w.key} is already followed`);
    this.watchers.set(w.key, w);
    this.loop ??= this.run();
    this.wakeUp?.();
    return () => {
      if (this.watchers.get(w.key) === w) this.watchers.delete(w.key);
    };
  }

  private async run(): Promise<void> {
    const blockMs = this.opts.blockMs ?? 500;
    while (!this.stopped) {
      if (this.watchers.size === 0) {
        // nothing to follow: give the connection back until someone watches again
        this.conn?.disconnect();
        this.conn = undefined;
        await new Promise<void>((resolve) => (this.wakeUp = resolve));
        this.wakeUp = undefined;
        continue;
      }
      if (!this.conn) {
        this.conn = duplicateClient(this.redis);
        this.conn.on("error", (err: Error) => this.opts.onError?.(err));
      }
      const ws = [...this.watchers.values()];
      let out: [string, RawEntries][] | null;
      const readAt = performance.now();
      try {
        out = (await this.conn.xread("COUNT", this.opts.count ?? 500, "BLOCK", blockMs, "STREAMS", ...ws.map((w) => w.key), ...ws.map((w) => w.lastId))) as
          | [string, RawEntries][]
          | null;
      } catch (err) {
        if (this.stopped) break;
        this.opts.onError?.(err as Error);
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      for (const [key, raw] of out ?? []) {
        const w = this.watchers.get(key);
        if (!w) continue;
        // a watcher that left and came back, or one that another reader advanced, never gets an entry twice; entries
        // come in id order, so only a leading run of them can be at or below lastId
        const entries = decodeEntries(raw);
        let skip = 0;
        while (skip < entries.length && compareStreamIds(entries[skip]?.id ?? "", w.lastId) <= 0) skip++;
        const fresh = skip === 0 ? entries : entries.slice(skip);
        if (fresh.length > 0) w.deliver(fresh);
      }
      const returned = (out ?? []).reduce((n, [, raw]) => n + raw.length, 0);
      const wait = (this.opts.minIntervalMs ?? 0) * Math.min(1, returned / PACE_FULL_AT) - (performance.now() - readAt);
      if (wait > 0 && !this.stopped) await new Promise((r) => setTimeout(r, wait));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watchers.clear();
    this.conn?.disconnect();
    this.conn = undefined;
    this.wakeUp?.();
    await this.loop;
  }
}
