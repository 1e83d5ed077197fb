import { randomUUID } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabKeys, LogLine } from "@hil/contracts";
import type { RedisClient } from "@hil/lab-protocol/redis";
import type { LogShipperMetrics } from "./agent-metrics.js";
import { LineSpool } from "./line-spool.js";

const BOARD_LOG_MAXLEN = "20000";
/** Lines per batch: one script call, during which Redis serves no one else (a few ms at 1,000). */
const MAX_BATCH_LINES = 1000;
/** Batches waiting for their replies at once when a backlog builds up (each full); more lines wait for a reply. */
const MAX_IN_FLIGHT = 4;
/** Lines waiting for Redis kept in memory by default; more go to the spill file. */
export const DEFAULT_BUFFERED_LINES = 50_000;
/** Lines one run's log stream stores by default; then one truncation marker, and the rest only in the board logs. */
export const DEFAULT_MAX_RUN_LOG_LINES = 200_000;
/** Waits between tries of a batch Redis did not take: from the first, doubling up to the last. */
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 5000;
/** An error reply (not a lost connection) to the same batch this often: the batch is given up, not retried for ever. */
const MAX_REPLY_ERRORS = 5;

/**
 * ship-log-lines (n keys): a batch of lines in one command, instead of one XADD (and one reply to decode) per line.
 * KEYS the streams the batch writes to · ARGV[1] MAXLEN of a board stream · ARGV[2] most entries of a run stream
 * (0: no cap) · then per line four values: the 1-based index of its board stream's key, its id there (`<seq>-0`),
 * the index of its run stream's key (0: no run) and the LogLine JSON.
 * The board stream decides whether a line is new: an id Redis refuses (not above the stream's last) whose entry
 * holds this very JSON was written by an earlier try of the batch (the reply was lost), so it is counted as a
 * duplicate and its run entry (`*` id, written in the same step as the board entry) is not written again. Any
 * other refusal is counted, and the line still goes to its run stream. A run stream at its cap gets one marker
 * line (stream `agent`) instead of the line, and nothing after it.
 * Returns {refused, first refusal's message, duplicates}. Sent with EVAL every time (Redis caches it by its
 * hash), so no batch can overtake another on a NOSCRIPT retry.
 */
const SHIP_LOG_LINES = `
local refused, first, dup = 0, '', 0
local cap = tonumber(ARGV[2])
local function marker(json)
  local ok, l = pcall(cjson.decode, json)
  if not ok or type(l) ~= 'table' then return nil end
  l.stream = 'agent'
  l.partial = nil
  l.text = string.format('[hil] run log truncated: the run stored %d lines, its cap; %s from seq %d on is only in the board log (hil logs --board %s --since %d) while the board log keeps it', cap, tostring(l.board), l.seq, tostring(l.board), l.seq - 1)
  return cjson.encode(l)
end
for i = 3, #ARGV, 4 do
  local bkey, id, json = KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 3]
  local new = true
  local r = redis.pcall('XADD', bkey, 'MAXLEN', '~', ARGV[1], id, 'json', json)
  if type(r) == 'table' and r.err then
    local e = redis.pcall('XRANGE', bkey, id, id)
    if type(e) == 'table' and e[1] and e[1][2] and e[1][2][2] == json then
      dup = dup + 1
      new = false
    else
      refused = refused + 1
      if first == '' then first = r.err end
    end
  end
  local ri = tonumber(ARGV[i + 2])
  if new and ri > 0 then
    local rkey = KEYS[ri]
    local n = cap > 0 and redis.call('XLEN', rkey) or 0
    local entry = json
    if cap > 0 and n == cap then entry = marker(json) elseif cap > 0 and n > cap then entry = nil end
    if entry then
      local w = redis.pcall('XADD', rkey, '*', 'json', entry)
      if type(w) == 'table' and w.err then
        refused = refused + 1
        if first == '' then first = w.err end
      end
    end
  end
end
return {refused, first, dup}
`;

export interface LogShipperOptions {
  /** Lines waiting for Redis kept in memory (default 50,000); past that they spill to `spillFile`. */
  maxBufferedLines?: number;
  /** Where lines past the memory bound wait (JSON lines); default a fresh file in the OS temp dir. */
  spillFile?: string;
  /** Lines a run's log stream stores before its truncation marker (default 200,000; 0: no cap). */
  maxRunLogLines?: number;
}

interface Batch {
  lines: LogLine[];
  /** Ordinal (in append order) of its first line. */
  first: number;
  state: "sending" | "done" | "retry";
  replyErrors: number;
}

/**
 * Ships stamped lines to Redis in batches: the lines that arrive in one turn of the event loop are written in the
 * next, so a quiet board's line is in Redis within a round trip. Lines that arrive while a batch waits for its reply
 * go together after it, so a busy agent's batches grow with the load; a backlog of full batches is written with a
 * few waiting at once (one connection keeps them in order) rather than one round trip each. Lines go to the
 * board's bounded stream (entry id = the board's sequence number, so readers resume with `since=SEQ` without gap or
 * duplicate) and, during a run, the run's log stream (capped: see SHIP_LOG_LINES). It owns sequence continuity: a
 * line whose seq does not follow the board's last one is re-stamped, so a restarted agent or a fresh console never
 * reuses a number. Sequences start at 1: Redis refuses the stream entry id 0-0.
 *
 * Nothing is dropped while Redis is away: a batch whose write fails goes back in front of the waiting lines and is
 * sent again, alone, with backoff, until Redis takes it; only then does the rest follow. Waiting lines stay in
 * memory up to a bound, then spill to a file (LineSpool). A batch sent again after its reply was lost is written
 * once: the board stream's ids tell what is already there.
 */
export class LogShipper {
  private readonly lastSeq = new Map<string, number>();
  private readonly spool: LineSpool;
  private readonly maxRunLogLines: number;
  /** Lines appended so far; the spool holds the newest `spool.length` of them. */
  private appended = 0;
  /** Batches sent and not yet written, oldest first. */
  private unsettled: Batch[] = [];
  /** A write is due at the next turn of the event loop. */
  private scheduled = false;
  private inFlight = 0;
  /** A batch was not taken: nothing more is sent until it is (`retryTimer` then sends it again). */
  private stalled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_FIRST_MS;
  private waiters: { upTo: number; resolve: (done: boolean) => void }[] = [];
  private failures = 0;
  /** The current outage was reported (once, not at every retry). */
  private outageReported = false;
  private closed = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    private readonly onError: (err: Error) => void = () => {},
    private readonly metrics?: LogShipperMetrics,
    options: LogShipperOptions = {},
  ) {
    this.spool = new LineSpool({
      maxInMemory: Math.max(MAX_BATCH_LINES, options.maxBufferedLines ?? DEFAULT_BUFFERED_LINES),
      file: options.spillFile ?? join(tmpdir(), `hil-log-spool-${process.pid}-${randomUUID().slice(0, 8)}.jsonl`),
    });
    this.maxRunLogLines = options.maxRunLogLines ?? DEFAULT_MAX_RUN_LOG_LINES;
  }

  /** Reads where each board's sequence stopped (the newest entry of its stream). */
  async init(boardIds: string[]): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const id of boardIds) pipe.xrevrange(this.keys.boardLog(id), "+", "-", "COUNT", 1);
    const results = (await pipe.exec()) ?? [];
    boardIds.forEach((id, i) => {
      const entries = results[i]?.[1] as [string, string[]][] | undefined;
      const top = entries?.[0]?.[0];
      const seq = top === undefined ? 0 : Number(top.split("-")[0]);
      // never behind what this process already stamped (a board added again while its lines still wait)
      this.lastSeq.set(id, Math.max(this.lastSeq.get(id) ?? 0, Number.isFinite(seq) ? seq : 0));
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
    this.spool.push(stamped);
    this.appended++;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
    return stamped;
  }

  /**
   * Writes what waits; resolves true once everything appended before the call is in Redis, however long Redis
   * is away, or false when `timeoutMs` passes first (the lines still wait and go when Redis is back).
   */
  flush(timeoutMs?: number): Promise<boolean> {
    const upTo = this.appended;
    if (this.settledBelow() >= upTo) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        upTo,
        resolve: (done: boolean) => {
          if (timer) clearTimeout(timer);
          resolve(done);
        },
      };
      this.waiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeoutMs);
      }
      this.pump();
    });
  }

  /** Batches Redis refused lines of, or that were given up after error replies. */
  get failedBatches(): number {
    return this.failures;
  }

  /** Lines appended and not yet in Redis (in memory, in flight or spilled). */
  get waitingLines(): number {
    return this.appended - this.settledBelow();
  }

  /** Stops retrying and removes the spill file; what still waits is lost (the agent is stopping). */
  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.closed = true;
    this.spool.close();
    for (const w of this.waiters.splice(0)) w.resolve(false);
  }

  /**
   * Writes a batch when nothing is in flight; while something is, lines wait for its reply and go together (fewer,
   * fuller batches: each costs a script call on both sides). A full batch's worth does not wait, up to MAX_IN_FLIGHT;
   * nor does anything a flush waits for. After a failed write nothing goes until the retry.
   */
  private pump(): void {
    if (this.stalled || this.closed) return;
    const hurry = this.waiters.length > 0;
    while (
      this.spool.length > 0 &&
      (this.inFlight === 0 || ((hurry || this.spool.length >= MAX_BATCH_LINES) && this.inFlight < MAX_IN_FLIGHT))
    ) {
      const first = this.appended - this.spool.length;
      this.send({ lines: this.spool.take(MAX_BATCH_LINES), first, state: "sending", replyErrors: 0 });
    }
  }

  private send(batch: Batch): void {
    this.inFlight++;
    this.unsettled.push(batch);
    void this.write(batch).then((written) => {
      this.inFlight--;
      batch.state = written ? "done" : "retry";
      if (!written) this.stalled = true;
      else if (this.retryMs !== RETRY_FIRST_MS && !this.unsettled.some((b) => b.state === "retry")) this.retryMs = RETRY_FIRST_MS;
      this.settle();
      if (this.stalled && this.inFlight === 0 && !this.retryTimer) this.scheduleRetry();
      // lines that waited for the reply
      else if (!this.stalled && this.spool.length > 0 && !this.scheduled) this.pump();
    });
  }

  /**
   * Every batch in flight has answered and one at least was not taken: the ones not taken go back in front of the
   * waiting lines, in their order, and the oldest is sent again alone after a pause; the rest follow once it is in.
   */
  private scheduleRetry(): void {
    if (this.closed) return;
    const back = this.unsettled.filter((b) => b.state === "retry");
    this.unsettled = [];
    this.spool.putBack(back.flatMap((b) => b.lines));
    const errors = Math.max(0, ...back.map((b) => b.replyErrors));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.spool.length === 0) {
        this.stalled = false;
        return;
      }
      const first = this.appended - this.spool.length;
      const batch: Batch = { lines: this.spool.take(MAX_BATCH_LINES), first, state: "sending", replyErrors: errors };
      // alone: the lines behind it go once Redis has taken it
      this.stalled = false;
      this.send(batch);
      this.stalled = true;
    }, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  /** Ordinal of the oldest line not yet in Redis (or of the next line to come). */
  private settledBelow(): number {
    let low = this.appended - this.spool.length;
    for (const b of this.unsettled) if (b.state !== "done") low = Math.min(low, b.first);
    return low;
  }

  private settle(): void {
    while (this.unsettled[0]?.state === "done") this.unsettled.shift();
    // a retried batch that went in lets the lines behind it go
    if (this.stalled && !this.retryTimer && this.inFlight === 0 && !this.unsettled.some((b) => b.state === "retry")) this.stalled = false;
    const low = this.settledBelow();
    const ready = this.waiters.filter((w) => w.upTo <= low);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.upTo > low);
    for (const w of ready) w.resolve(true);
  }

  /** True once Redis has the batch (or refused lines of it for good); false when it must be sent again. */
  private async write(batch: Batch): Promise<boolean> {
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
    const args: string[] = [BOARD_LOG_MAXLEN, String(this.maxRunLogLines)];
    for (const line of batch.lines) {
      args.push(indexOf(this.keys.boardLog(line.board)), `${line.seq}-0`, line.run === null ? "0" : indexOf(this.keys.runLog(line.run)), JSON.stringify(line));
    }
    const n = batch.lines.length;
    let reply: [number, string, number];
    try {
      reply = (await this.redis.eval(SHIP_LOG_LINES, keys.length, ...keys, ...args)) as [number, string, number];
    } catch (err) {
      const e = err as Error;
      // Redis answered with an error (out of memory, a permission): retried a few times, then given up so one
      // batch cannot hold every later line back for ever. A connection that is gone or stalls is waited out.
      if (e.name === "ReplyError" && ++batch.replyErrors >= MAX_REPLY_ERRORS) {
        this.failures++;
        this.metrics?.lines(0, n);
        this.onError(new Error(`gave up ${n} log lines after ${MAX_REPLY_ERRORS} error replies: ${e.message}`, { cause: e }));
        return true;
      }
      if (!this.outageReported) this.onError(new Error(`Redis did not take ${n} log lines; they wait and are sent again: ${e.message}`, { cause: e }));
      this.outageReported = true;
      return false;
    }
    this.outageReported = false;
    const [refused, first] = reply;
    const lost = Math.min(refused, n);
    this.metrics?.lines(n - lost, lost);
    if (refused > 0) {
      this.failures++;
      this.onError(new Error(`Redis refused ${refused} of ${n} log lines: ${first}`));
    }
    return true;
  }
}
