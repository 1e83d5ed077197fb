import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { RedisClient } from "@hil/lab-protocol/redis";
import { LogLineSchema, type LogLine } from "@hil/contracts";

/** One line of a run log page: where it is (the resume cursor) and the line. */
export interface RunLogEntry {
  cursor: string;
  line: LogLine;
}

/**
 * A page of a run log, oldest first. `before`: the cursor to ask for the lines before this page, absent when there
 * are none. `after`: the cursor to ask for the lines after this page (forward reading), the one asked for when the
 * page is empty.
 */
export interface RunLogPage {
  lines: RunLogEntry[];
  before?: string;
  after?: string;
  /** Entries that were not a LogLine (not JSON, wrong shape, no `json` field): skipped, counted for a warning. */
  skipped: number;
}

export type PageRequest = { before: string; limit: number } | { after: string; limit: number } | { limit: number };

/** The page of a log that has no lines at all (no stream, no file yet). */
export function emptyPage(req: PageRequest): RunLogPage {
  return "after" in req ? { lines: [], after: req.after, skipped: 0 } : { lines: [], skipped: 0 };
}

/** A stored LogLine, or undefined when the text is not JSON or not a LogLine. */
export function decodeLogLine(json: string | undefined): LogLine | undefined {
  if (json === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  const p = LogLineSchema.safeParse(value);
  return p.success ? p.data : undefined;
}

/** `<ms>-<n>` as two bigints (cursors are checked to be digits before they get here). */
function parseCursor(cursor: string): [bigint, bigint] {
  const [ms = "0", n = "0"] = cursor.split("-");
  return [BigInt(ms), BigInt(n)];
}

function toPage(raw: [string, string[]][], skippedBefore = 0): { lines: RunLogEntry[]; skipped: number } {
  const lines: RunLogEntry[] = [];
  let skipped = skippedBefore;
  for (const [id, fields] of raw) {
    const i = fields.indexOf("json");
    const line = decodeLogLine(i >= 0 ? fields[i + 1] : undefined);
    if (line) lines.push({ cursor: id, line });
    else skipped++;
  }
  return { lines, skipped };
}

/**
 * A page of a run log stream (cursors are stream ids). Backwards (`before`, or neither: the newest lines) reads one
 * entry more than the page to know whether anything is earlier. `before` is the id of the oldest entry read, which
 * is the first line's cursor unless that entry was malformed.
 */
export async function readStreamPage(redis: RedisClient, key: string, req: PageRequest): Promise<RunLogPage> {
  if ("after" in req) {
    const raw = (await redis.xrange(key, `(${req.after}`, "+", "COUNT", req.limit)) as [string, string[]][];
    const { lines, skipped } = toPage(raw);
    return { lines, after: raw[raw.length - 1]?.[0] ?? req.after, skipped };
  }
  // "(0-0" cannot be decremented (Redis refuses it): nothing is before the first possible id
  if ("before" in req && parseCursor(req.before).every((p) => p === 0n)) return { lines: [], skipped: 0 };
  const end = "before" in req ? `(${req.before}` : "+";
  const raw = (await redis.xrevrange(key, end, "-", "COUNT", req.limit + 1)) as [string, string[]][];
  const more = raw.length > req.limit;
  const newestFirst = more ? raw.slice(0, req.limit) : raw;
  const { lines, skipped } = toPage(newestFirst.reverse());
  const oldest = newestFirst[0]?.[0];
  return more && oldest !== undefined ? { lines, before: oldest, skipped } : { lines, skipped };
}

/** Byte offsets where each non-empty line of a file starts, and the file's size when indexed. */
interface LineIndex {
  size: number;
  mtimeMs: number;
  starts: number[];
}

async function indexLines(path: string, size: number, mtimeMs: number): Promise<LineIndex> {
  const starts: number[] = [];
  if (size === 0) return { size, mtimeMs, starts };
  let lineStart = 0;
  let pos = 0;
  for await (const chunk of createReadStream(path, { end: size - 1 }) as AsyncIterable<Buffer>) {
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, nl + 1)) {
      if (pos + nl > lineStart) starts.push(lineStart);
      lineStart = pos + nl + 1;
    }
    pos += chunk.length;
  }
  if (size > lineStart) starts.push(lineStart);
  return { size, mtimeMs, starts };
}

/**
 * Pages of a run's `log.jsonl` (the log once its Redis stream has expired), cursor `0-<line number>` (1-based, blank
 * lines not counted). A page reads only its own bytes: each file's line offsets are indexed once (one pass, ~8 bytes
 * per line) and kept for the few files read last, since a reader paging through a long log asks for many pages.
 */
export class LogFilePager {
  private readonly indexes = new Map<string, Promise<LineIndex>>();

  constructor(private readonly keep = 4) {}

  /** The page, or undefined when there is no such file. */
  async read(path: string, req: PageRequest): Promise<RunLogPage | undefined> {
    let info;
    try {
      info = await stat(path);
    } catch {
      return undefined;
    }
    const index = await this.index(path, info.size, info.mtimeMs);
    const n = index.starts.length;
    let from: number;
    let to: number;
    if ("after" in req) {
      const [ms, k] = parseCursor(req.after);
      from = ms > 0n ? n : Math.min(Number(k), n);
      to = Math.min(from + req.limit, n);
    } else {
      const [ms, k] = "before" in req ? parseCursor(req.before) : [1n, 0n];
      to = ms > 0n ? n : Math.max(0, Math.min(Number(k) - 1, n));
      from = Math.max(0, to - req.limit);
    }
    const texts = await readRange(path, index, from, to);
    const lines: RunLogEntry[] = [];
    let skipped = 0;
    texts.forEach((t, i) => {
      const line = decodeLogLine(t);
      if (line) lines.push({ cursor: `0-${from + i + 1}`, line });
      else skipped++;
    });
    if ("after" in req) return { lines, after: to > from ? `0-${to}` : req.after, skipped };
    return from > 0 ? { lines, before: `0-${from + 1}`, skipped } : { lines, skipped };
  }

  private index(path: string, size: number, mtimeMs: number): Promise<LineIndex> {
    const cached = this.indexes.get(path);
    if (cached) {
      // most recently used last, so the oldest is the one to drop
      this.indexes.delete(path);
      this.indexes.set(path, cached);
      return cached.then((i) => (i.size === size && i.mtimeMs === mtimeMs ? i : this.reindex(path, size, mtimeMs)));
    }
    return this.reindex(path, size, mtimeMs);
  }

  private reindex(path: string, size: number, mtimeMs: number): Promise<LineIndex> {
    const p = indexLines(path, size, mtimeMs);
    this.indexes.delete(path);
    this.indexes.set(path, p);
    p.catch(() => this.indexes.get(path) === p && this.indexes.delete(path));
    for (const k of this.indexes.keys()) {
      if (this.indexes.size <= this.keep) break;
      this.indexes.delete(k);
    }
    return p;
  }
}

/** Lines [from, to) of an indexed file, read in one go from their byte range. */
async function readRange(path: string, index: LineIndex, from: number, to: number): Promise<string[]> {
  if (to <= from) return [];
  const start = index.starts[from] ?? 0;
  const end = index.starts[to] ?? index.size;
  const buf = Buffer.alloc(end - start);
  const fh = await open(path, "r");
  try {
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return buf.toString("utf8").split("\n").filter(Boolean);
}
