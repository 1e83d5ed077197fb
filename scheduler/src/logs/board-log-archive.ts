import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { RedisClient } from "@hil/lab-protocol/redis";
import type { LabKeys } from "@hil/contracts";
import { archivedInOrder, archiveRows, raiseArchiveMark } from "./archive-rows.js";
import { seqOf, type StreamEntry } from "./log-stream.js";

const BATCH = 5000;
const FILE = /^log-(\d{4}-\d{2}-\d{2})\.jsonl$/;

export interface BoardLogArchiveOptions {
  /** Day files older than this are deleted (the lab's run retention). */
  retentionMs: number;
  /** How often a sweep copies new lines (the stream's cap must not outrun it: 20,000 lines per board). */
  everyMs?: number;
  warn?: (fields: Record<string, unknown>, message: string) => void;
}

/**
 * Copies every board's log stream to day files under `<artifact dir>/boards/<board>/log-<YYYY-MM-DD>.jsonl`
 * before the stream's cap (the agent trims each board stream to its newest ~20,000 lines) can drop them:
 * the lines of no run (a console between runs, a board booting) are otherwise kept nowhere else. Entry ids are
 * `<seq>-0`, so a range copied twice (two replicas, a retry after a failed write) is read once, and a hole
 * the cap made before the copy is seen as a jump in seq and reported. Day files go after the run retention.
 */
export class BoardLogArchive {
  private lastSweep = 0;
  private lastPrune = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    private readonly boardDir: (boardId: string) => string,
    private readonly opts: BoardLogArchiveOptions,
  ) {}

  /** Copies what is new on every registered board (at most every `everyMs`); prunes old day files once an hour. */
  async sweep(now = Date.now()): Promise<void> {
    if (now - this.lastSweep < (this.opts.everyMs ?? 2000)) return;
    this.lastSweep = now;
    const boards = await this.redis.smembers(this.keys.boards());
    if (boards.length === 0) return;
    const marks = await this.redis.hmget(this.keys.boardLogArchived(), ...boards);
    for (const [i, board] of boards.entries()) {
      try {
        await this.archive(board, marks[i] ?? undefined, now);
      } catch (err) {
        // a full disk, or Redis gone mid-copy: the mark did not move, so the next sweep copies the same lines again
        // (a row cut short by the disk is skipped when read, and one copied twice is read once)
        this.opts.warn?.({ board, err: (err as Error).message }, "could not archive the board's log; retrying at the next sweep");
      }
    }
    if (now - this.lastPrune > 3_600_000) {
      this.lastPrune = now;
      for (const board of boards) this.prune(board, now);
    }
  }

  private async archive(board: string, mark: string | undefined, now: number): Promise<void> {
    const key = this.keys.boardLog(board);
    let start = mark === undefined ? "-" : `(${mark}`;
    let expect = mark === undefined ? undefined : seqOf(mark) + 1;
    const dir = this.boardDir(board);
    for (;;) {
      const batch = (await this.redis.xrange(key, start, "+", "COUNT", BATCH)) as [string, string[]][];
      if (batch.length === 0) return;
      const first = seqOf(batch[0]![0]);
      if (expect !== undefined && first > expect) {
        this.opts.warn?.({ board, missing: first - expect, from: expect }, "board log lines were trimmed from the stream before the archive copied them");
      }
      mkdirSync(dir, { recursive: true });
      appendFileSync(join(dir, `log-${new Date(now).toISOString().slice(0, 10)}.jsonl`), archiveRows(batch));
      const last = batch[batch.length - 1]![0];
      await raiseArchiveMark(this.redis, this.keys.boardLogArchived(), board, last);
      if (batch.length < BATCH) return;
      start = `(${last}`;
      expect = seqOf(last) + 1;
    }
  }

  private prune(board: string, now: number): void {
    const dir = this.boardDir(board);
    for (const name of this.files(board)) {
      const path = join(dir, name);
      if (now - statSync(path).mtimeMs > this.opts.retentionMs) rmSync(path, { force: true });
    }
  }

  private files(board: string): string[] {
    try {
      return readdirSync(this.boardDir(board))
        .filter((n) => FILE.test(n))
        .sort();
    } catch {
      return [];
    }
  }

  /**
   * The archived entries with `after < seq < before`, oldest first, each once: what a reader resuming from `after`
   * needs when the stream itself no longer starts there. Rows that do not parse are skipped.
   */
  read(board: string, after: number, before: number): StreamEntry[] {
    const raws = this.files(board).map((name) => readFileSync(join(this.boardDir(board), name), "utf8"));
    const out: StreamEntry[] = [];
    for (const entry of archivedInOrder(raws).entries) {
      const seq = seqOf(entry.id);
      if (entry.json && seq > after && seq < before) out.push({ id: entry.id, json: entry.json });
    }
    return out;
  }
}
