import type { RedisClient } from "@hil/lab-protocol/redis";
import type { Server, Socket } from "socket.io";
import type { LogLine } from "@hil/contracts";
import { compareStreamIds, readAfter, readTail, StreamFollower, type StreamEntry, type StreamWatcher } from "@hil/scheduler";
import type { ClientToServerEvents, InterServerEvents, RoomLine, ServerToClientEvents, SocketData } from "./events.js";

type GatewayServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type GatewaySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * Under a steady flow the shared XREAD runs at most this often: every round costs one socket.io frame per room and
 * member, so rounds, not lines, are what a busy gateway pays for. A line on a quiet board is sent at once.
 */
const READ_INTERVAL_MS = 20;

/** Joins that could not catch up with a reader after this many rounds are refused (the client retries). */
const MAX_HANDOVER_ROUNDS = 100;

function toLines(entries: readonly StreamEntry[]): RoomLine[] {
  const out: RoomLine[] = [];
  for (const e of entries) {
    if (!e.json) continue;
    try {
      out.push({ cursor: e.id, line: JSON.parse(e.json) as LogLine });
    } catch {
      // an entry that is not JSON is not a line; its cursor is passed anyway by the next one
    }
  }
  return out;
}

/** The one reader of a stream for all the clients in its room: what it delivers goes to the room, in order. */
class RoomReader implements StreamWatcher {
  readonly members = new Set<string>();
  private waiters: (() => void)[] = [];

  constructor(
    private readonly io: GatewayServer,
    readonly room: string,
    readonly key: string,
    public lastId: string,
  ) {}

  deliver(entries: StreamEntry[]): void {
    const last = entries[entries.length - 1];
    if (!last) return;
    // lastId and the broadcast change together (no await between): a joiner compares against lastId synchronously
    this.lastId = last.id;
    const lines = toLines(entries);
    if (lines.length > 0) this.io.to(this.room).emit("lines", { room: this.room, lines });
    this.wake();
  }

  /** Resolves when the reader delivers again or closes. */
  advanced(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const resolve of w) resolve();
  }
}

/**
 * Log rooms `board:<id>` and `run:<id>`: one RoomReader per room, started by the first member and stopped when the
 * last leaves, all following their streams through one StreamFollower (one blocking Redis connection).
 *
 * Hand-over: a joining socket is sent the entries after its `since` by XRANGE, and enters the room only at a moment
 * when the last entry it was sent is exactly the reader's `lastId` (checked and joined without an await between).
 * From then on it gets what the reader delivers: everything after `lastId`, so nothing is missed or sent twice.
 */
export class LogRooms {
  private readonly readers = new Map<string, RoomReader>();
  private readonly unwatch = new WeakMap<RoomReader, () => void>();
  private readonly follower: StreamFollower;

  constructor(
    private readonly io: GatewayServer,
    private readonly redis: RedisClient,
    opts: { blockMs?: number; onError?: (err: Error) => void } = {},
  ) {
    this.follower = new StreamFollower(redis, { minIntervalMs: READ_INTERVAL_MS, ...opts });
  }

  /** Readers running now (one per room with members). */
  get readerCount(): number {
    return this.readers.size;
  }

  /** Blocking Redis connections the readers use (at most one). */
  get followerConnections(): number {
    return this.follower.connections;
  }

  /** Sends the backlog after `since` (or the last `tail` entries), then puts the socket in the room. Resolves with its cursor. */
  async join(socket: GatewaySocket, room: string, key: string, since: string | undefined, tail: number): Promise<string> {
    this.leave(socket, room);
    const send = (entries: StreamEntry[]) => {
      const lines = toLines(entries);
      if (lines.length > 0) socket.emit("lines", { room, lines });
    };
    let cursor = since;
    if (cursor === undefined) {
      const entries = await readTail(this.redis, key, tail);
      send(entries);
      cursor = entries[entries.length - 1]?.id ?? (tail === 0 ? await this.endOf(key) : "0-0");
    }
    cursor = (await readAfter(this.redis, key, cursor, send)) ?? cursor;
    for (let round = 0; round < MAX_HANDOVER_ROUNDS; round++) {
      if (!socket.connected) return cursor;
      const reader = this.readers.get(room);
      if (!reader) {
        const r = new RoomReader(this.io, room, key, cursor);
        this.readers.set(room, r);
        this.enter(socket, r);
        this.unwatch.set(r, this.follower.watch(r));
        return cursor;
      }
      const target = reader.lastId;
      const cmp = compareStreamIds(cursor, target);
      if (cmp === 0) {
        this.enter(socket, reader);
        return cursor;
      }
      if (cmp < 0) {
        // the reader already broadcast past what this socket was sent: send the difference, exactly up to it
        const read = await readAfter(this.redis, key, cursor, send, { untilId: target });
        // nothing in between: those entries were trimmed away; there is nothing left to send before `target`
        cursor = read === undefined || read === cursor ? target : read;
        continue;
      }
      // this socket is ahead of the reader (its XRANGE saw entries the reader has not delivered yet): wait for it
      await reader.advanced();
    }
    throw new Error("the log moves too fast to join it now; join again");
  }

  leave(socket: GatewaySocket, room: string): void {
    const reader = this.readers.get(room);
    void socket.leave(room);
    if (!reader || !reader.members.delete(socket.id)) return;
    if (reader.members.size === 0) this.stopReader(reader);
  }

  /** Takes a disconnecting socket out of every log room it is in. */
  leaveAll(socket: GatewaySocket): void {
    for (const reader of [...this.readers.values()]) if (reader.members.has(socket.id)) this.leave(socket, reader.room);
  }

  async close(): Promise<void> {
    for (const r of this.readers.values()) r.wake();
    this.readers.clear();
    await this.follower.stop();
  }

  private enter(socket: GatewaySocket, reader: RoomReader): void {
    reader.members.add(socket.id);
    void socket.join(reader.room);
  }

  private stopReader(reader: RoomReader): void {
    this.readers.delete(reader.room);
    this.unwatch.get(reader)?.();
    reader.wake();
  }

  private async endOf(key: string): Promise<string> {
    const top = await readTail(this.redis, key, 1);
    return top[0]?.id ?? "0-0";
  }
}
