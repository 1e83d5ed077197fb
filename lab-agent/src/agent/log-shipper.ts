import type { LabKeys, LogLine } from "@hil/contracts";
import type { Redis } from "ioredis";

const BOARD_LOG_MAXLEN = "20000";
const FLUSH_EVERY_MS = 50;
const FLUSH_AT_LINES = 500;

/**
 * Ships stamped lines to Redis in batches: the board's bounded stream (entry id = the board's
 * sequence number, so readers resume with `since=SEQ` without gap or duplicate) and, during a
 * run, the run's log stream. It owns sequence continuity: a line whose seq does not follow the
 * board's last one is re-stamped, so a restarted agent or a fresh console never reuses a number.
 * Sequences start at 1: Redis refuses the stream entry id 0-0.
 */
export class LogShipper {
  private readonly lastSeq = new Map<string, number>();
  private buffer: LogLine[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private failures = 0;

  constructor(
    private readonly redis: Redis,
    private readonly keys: LabKeys,
    private readonly onError: (err: Error) => void = () => {},
  ) {}

  /** Reads where each board's sequence stopped (the newest entry of its stream). */
  async init(boardIds: string[]): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const id of boardIds) pipe.xrevrange(this.keys.boardLog(id), "+", "-", "COUNT", 1);
    const results = (await pipe.exec()) ?? [];
    boardIds.forEach((id, i) => {
      const entries = results[i]?.[1] as [string, string[]][] | undefined;
      const top = entries?.[0]?.[0];
      const seq = top === undefined ? 0 : Number(top.split("-")[0]);
      this.lastSeq.set(id, Number.isFinite(seq) ? seq : 0);
    });
  }

  /** The sequence number the board's next line should carry (a console's `startSeq`). */
  nextSeq(boardId: string): number {
    return (this.lastSeq.get(boardId) ?? 0) + 1;
  }

  append(line: LogLine): LogLine {
    const last = this.lastSeq.get(line.board) ?? 0;
    const stamped = line.seq > last ? line : { ...line, seq: last + 1 };
    this.lastSeq.set(line.board, stamped.seq);
    this.buffer.push(stamped);
    if (this.buffer.length >= FLUSH_AT_LINES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_EVERY_MS);
    return stamped;
  }

  /** Writes what is buffered; resolves when everything appended before the call is in Redis. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(() => (batch.length === 0 ? undefined : this.write(batch)));
    return this.flushing;
  }

  get failedBatches(): number {
    return this.failures;
  }

  private async write(batch: LogLine[]): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const line of batch) {
      const json = JSON.stringify(line);
      pipe.xadd(this.keys.boardLog(line.board), "MAXLEN", "~", BOARD_LOG_MAXLEN, `${line.seq}-0`, "json", json);
      if (line.run !== null) pipe.xadd(this.keys.runLog(line.run), "*", "json", json);
    }
    try {
      const results = (await pipe.exec()) ?? [];
      const failed = results.find(([err]) => err !== null);
      if (failed?.[0]) throw failed[0];
    } catch (err) {
      // Logs must never take a run down; count and report, keep going.
      this.failures++;
      this.onError(err as Error);
    }
  }
}
