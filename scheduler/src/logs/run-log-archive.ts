import { appendFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { RedisClient } from "@hil/lab-protocol/redis";
import type { LabKeys, LogLine } from "@hil/contracts";
import { archivedInOrder, archiveRows, raiseArchiveMark } from "./archive-rows.js";
import { decodeLogLine } from "./run-log-pages.js";

/** A run stream shorter than this is not archived while the run runs (its end reads it whole). */
export const ARCHIVE_FROM_LINES = 1000;
const BATCH = 5000;
const FILE = "log.archive.jsonl";

/**
 * Copies a long run's log stream to `<runDir>/log.archive.jsonl` while the run runs, so lines the stream's cap
 * trims (its oldest entries) are not lost: at the run's end the stored log is the archive plus what the stream
 * holds after it. Each archived entry keeps its stream id; a range archived twice (two replicas, a retry) is
 * read once. Where the archive falls behind the cap anyway, the gap is marked (see markLogGaps).
 */
export class RunLogArchive {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    private readonly runDir: (runId: string) => string,
  ) {}

  /** One step for each of `runIds` (running runs) whose stream is long enough to be worth it. */
  async sweep(runIds: readonly string[]): Promise<void> {
    if (runIds.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const id of runIds) pipe.xlen(this.keys.runLog(id));
    pipe.hmget(this.keys.runLogArchived(), ...runIds);
    const res = (await pipe.exec()) ?? [];
    const marks = (res[runIds.length]?.[1] as (string | null)[] | undefined) ?? [];
    for (const [i, id] of runIds.entries()) {
      const len = Number(res[i]?.[1] ?? 0);
      if (len < ARCHIVE_FROM_LINES && !marks[i]) continue;
      await this.archive(id, marks[i] ?? undefined);
    }
  }

  private async archive(runId: string, after: string | undefined): Promise<void> {
    let start = after === undefined ? "-" : `(${after}`;
    const dir = this.runDir(runId);
    mkdirSync(dir, { recursive: true });
    for (;;) {
      const batch = await this.redis.xrange(this.keys.runLog(runId), start, "+", "COUNT", BATCH);
      if (batch.length === 0) return;
      appendFileSync(join(dir, FILE), archiveRows(batch));
      const last = batch[batch.length - 1]?.[0] ?? "";
      await raiseArchiveMark(this.redis, this.keys.runLogArchived(), runId, last);
      if (batch.length < BATCH) return;
      start = `(${last}`;
    }
  }

  /** The archived lines and the stream id they reach, or undefined when the run has no archive. */
  read(runId: string): { lines: LogLine[]; skipped: number; lastId: string } | undefined {
    let raw: string;
    try {
      raw = readFileSync(join(this.runDir(runId), FILE), "utf8");
    } catch {
      return undefined;
    }
    const lines: LogLine[] = [];
    let skipped = 0;
    let lastId = "0-0";
    const { entries, bad } = archivedInOrder([raw]);
    skipped += bad;
    for (const entry of entries) {
      lastId = entry.id;
      const line = decodeLogLine(entry.json);
      if (line) lines.push(line);
      else skipped++;
    }
    return { lines, skipped, lastId };
  }

  /** Once the run's files hold the whole log. */
  async remove(runId: string): Promise<void> {
    rmSync(join(this.runDir(runId), FILE), { force: true });
    await this.redis.hdel(this.keys.runLogArchived(), runId);
  }
}
