import type { LabKeys, LogLine } from "@hil/contracts";
import type { Redis } from "ioredis";

const BOARD_LOG_MAXLEN = "20000";
/** Lines per batch: one script call, during which Redis serves no one else (a few ms at 1,000). */
const MAX_BATCH_LINES = 1000;
/** Batches waiting for their replies at once when a backlog builds up (each full); more lines wait for a reply. */
const MAX_IN_FLIGHT = 4;

/**
 * ship-log-lines (n keys): a batch of lines in one command, instead of one XADD (and one reply to decode) per line.
 * KEYS the streams the batch writes to · ARGV[1] MAXLEN of a board stream · then per entry three values: the 1-based
 * index of its key, its id (`<seq>-0` on a board stream, MAXLEN ~ applies; `*` on a run stream) and the LogLine JSON.
 * An entry Redis refuses (an id not above the stream's last) is skipped and counted, the others are written.
 * Returns {refused, first refusal's message}. Sent with EVAL every time (Redis caches it by its hash), so no batch
 * can overtake another on a NOSCRIPT retry.
 */
const SHIP_LOG_LINES = `
local refused, first = 0, ''
for i = 2, #ARGV, 3 do
  local key = KEYS[tonumber(ARGV[i])]
  local r
  if ARGV[i + 1] == '*' then
    r = redis.pcall('XADD', key, '*', 'json', ARGV[i + 2])
  else
    r = redis.pcall('XADD', key, 'MAXLEN', '~', ARGV[1], ARGV[i + 1], 'json', ARGV[i + 2])
  end
  if type(r) == 'table' and r.err then
    refused = refused + 1
    if first == '' then first = r.err end
  end
end
return {refused, first}
`;

/**
 * Ships stamped lines to Redis in batches: the lines that arrive in one turn of the event loop are written in the
 * next, so a quiet board's line is in Redis within a round trip. Lines that arrive while a batch waits for its reply
 * go together after it, so a busy agent's batches grow with the load; a backlog of full batches is written with a
 * few waiting at once (one connection keeps them in order) rather than one round trip each. Lines go to the
 * board's bounded stream (entry id = the board's sequence number, so readers resume with `since=SEQ` without gap or
 * duplicate) and, during a run, the run's log stream. It owns sequence continuity: a line whose seq does not follow
 * the board's last one is re-stamped, so a restarted agent or a fresh console never reuses a number. Sequences
 * start at 1: Redis refuses the stream entry id 0-0.
 */
export class LogShipper {
  private readonly lastSeq = new Map<string, number>();
  private buffer: LogLine[] = [];
  /** A write is due at the next turn of the event loop. */
  private scheduled = false;
  private inFlight = 0;
  /** Settles after the newest batch's reply, and so after every earlier one's (one connection, in order). */
  private newest: Promise<void> = Promise.resolve();
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
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
    return stamped;
  }

  /** Writes what is buffered; resolves when everything appended before the call is in Redis. */
  flush(): Promise<void> {
    while (this.buffer.length > 0) this.send(this.takeBatch());
    return this.newest;
  }

  get failedBatches(): number {
    return this.failures;
  }

  /**
   * Writes a batch when nothing is in flight; while something is, lines wait for its reply and go together (fewer,
   * fuller batches: each costs a script call on both sides). A full batch's worth does not wait, up to MAX_IN_FLIGHT.
   */
  private pump(): void {
    while (this.buffer.length > 0 && (this.inFlight === 0 || (this.buffer.length >= MAX_BATCH_LINES && this.inFlight < MAX_IN_FLIGHT))) {
      this.send(this.takeBatch());
    }
  }

  private takeBatch(): LogLine[] {
    const batch = this.buffer.length <= MAX_BATCH_LINES ? this.buffer : this.buffer.slice(0, MAX_BATCH_LINES);
    this.buffer = batch === this.buffer ? [] : this.buffer.slice(MAX_BATCH_LINES);
    return batch;
  }

  private send(batch: LogLine[]): void {
    this.inFlight++;
    this.newest = this.write(batch).then(() => {
      this.inFlight--;
      // lines that waited for the reply
      if (this.buffer.length > 0 && !this.scheduled) this.pump();
    });
  }

  private async write(batch: LogLine[]): Promise<void> {
    const keys: string[] = [];
    const keyIndex = new Map<string, string>();
    const indexOf = (key: string): string => {
      let i = keyIndex.get(key);
      if (i === undefined) {
        keys.push(key);
        i = String(keys.length);
        keyIndex.set(key, i);
      }
      return i;
    };
    const args: string[] = [BOARD_LOG_MAXLEN];
    for (const line of batch) {
      const json = JSON.stringify(line);
      args.push(indexOf(this.keys.boardLog(line.board)), `${line.seq}-0`, json);
      if (line.run !== null) args.push(indexOf(this.keys.runLog(line.run)), "*", json);
    }
    try {
      const [refused, first] = (await this.redis.eval(SHIP_LOG_LINES, keys.length, ...keys, ...args)) as [number, string];
      if (refused > 0) throw new Error(`Redis refused ${refused} of ${batch.length} log lines: ${first}`);
    } catch (err) {
      // Logs must never take a run down; count and report, keep going.
      this.failures++;
      this.onError(err as Error);
    }
  }
}
