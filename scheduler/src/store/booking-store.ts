import { randomBytes } from "node:crypto";
import type { RedisClient } from "@hil/lab-protocol/redis";
import type { Booking, BookingEndReason, LabKeys } from "@hil/contracts";
import { LuaScript } from "@hil/lab-protocol";
import { bookingState } from "./board-registry.js";
import { decodeBooking } from "./booking-codec.js";
import { publishChange } from "./change-publisher.js";

/**
 * put-booking (3 keys): writes a booking unless it overlaps another live booking of its board.
 * KEYS[1] board-bookings zset · KEYS[2] booking key · KEYS[3] all-bookings zset (score = end).
 * ARGV[1] booking id · [2] start · [3] end · [4] booking JSON · [5] booking key prefix · [6] now.
 * Returns "" when written, else the id of the booking it overlaps.
 */
const PUT_BOOKING = new LuaScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
for _, id in ipairs(ids) do
  if id ~= ARGV[1] then
    local raw = redis.call('GET', ARGV[5] .. id)
    -- a record that is not a booking (no JSON, an end past any safe integer) cannot hold the board,
    -- as the readers in JS skip it too: skip it rather than fail or block every booking
    local ok, b = pcall(cjson.decode, raw or 'null')
    if ok and type(b) == 'table' then
      local e = tonumber(b['end'])
      if e and e <= 9007199254740991 and b.state ~= 'released' and e > tonumber(ARGV[2]) and e > tonumber(ARGV[6]) then return id end
    end
  end
end
redis.call('SET', KEYS[2], ARGV[4])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return ''
`);

export class BookingConflictError extends Error {
  override name = "BookingConflictError";
  constructor(readonly other: string, board: string) {
    super(`board ${board} is already booked in that window (booking ${other}); pick another time or board`);
  }
}

export class BookingStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    /** Told about each stored record that is not a valid booking (it is skipped). */
    private readonly onCorrupt: (id: string) => void = () => {},
  ) {}

  static newId(): string {
    return `bk-${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  }

  /** Throws BookingConflictError on overlap. */
  async put(b: Booking, now = Date.now()): Promise<Booking> {
    const other = (await PUT_BOOKING.run(
      this.redis,
      [this.keys.boardBookings(b.board), this.keys.booking(b.id), this.keys.bookings()],
      [b.id, b.start, b.end, JSON.stringify(b), this.keys.booking(""), now],
    )) as string;
    if (other) throw new BookingConflictError(other, b.board);
    const stored = this.withState(b, now);
    publishChange(this.redis, this.keys, { kind: "booking", id: b.id, state: stored.state });
    return stored;
  }

  async get(id: string, now = Date.now()): Promise<Booking | undefined> {
    const raw = await this.redis.get(this.keys.booking(id));
    if (raw === null) return undefined;
    const b = decodeBooking(raw);
    if (!b) this.onCorrupt(id);
    return b && this.withState(b, now);
  }

  /** Ends a booking now; `by` says who and why (kept on the record for the holder to see). */
  async release(id: string, now = Date.now(), by?: { actor: string; reason: BookingEndReason }): Promise<Booking | undefined> {
    const b = await this.get(id, now);
    if (!b) return undefined;
    if (b.state === "released" || b.state === "ended") return b;
    const released: Booking = { ...b, state: "released", end: Math.min(b.end, Math.max(b.start, now)), ...(by ? { endReason: by.reason, releasedBy: by.actor } : {}) };
    await this.redis
      .multi()
      .set(this.keys.booking(id), JSON.stringify(released))
      .zrem(this.keys.boardBookings(b.board), id)
      .zadd(this.keys.bookings(), released.end, id)
      .exec();
    publishChange(this.redis, this.keys, { kind: "booking", id, state: released.state });
    return released;
  }

  async list(filter: { board?: string; holder?: string; active?: boolean }, now = Date.now()): Promise<Booking[]> {
    const ids = filter.board
      ? await this.redis.zrange(this.keys.boardBookings(filter.board), "0", "-1")
      : await this.redis.zrevrange(this.keys.bookings(), "0", "999");
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(...ids.map((id) => this.keys.booking(id)));
    const found: Booking[] = [];
    raws.forEach((raw, i) => {
      if (raw === null) return;
      const b = decodeBooking(raw);
      if (b) found.push(b);
      else this.onCorrupt(ids[i] ?? "");
    });
    return found
      .map((b) => this.withState(b, now))
      .filter((b) => (filter.holder ? b.holder === filter.holder : true))
      .filter((b) => (filter.active ? b.state === "active" : true))
      .sort((a, b) => a.start - b.start);
  }

  /**
   * Bounded growth: bookings that ended (or were released) before `now` leave their board's calendar, which
   * the lease script scans on every claim; they stay readable (`get`, the list of all bookings) until
   * `retentionMs` after their end, then are deleted. Returns how many left a calendar and how many were deleted.
   */
  async prune(now: number, retentionMs: number, max = 1000): Promise<{ ended: number; deleted: number }> {
    const ids = await this.redis.zrangebyscore(this.keys.bookings(), "-inf", now, "WITHSCORES", "LIMIT", 0, max);
    if (ids.length === 0) return { ended: 0, deleted: 0 };
    const entries: { id: string; end: number }[] = [];
    for (let i = 0; i + 1 < ids.length; i += 2) entries.push({ id: ids[i] ?? "", end: Number(ids[i + 1]) });
    const raws = await this.redis.mget(...entries.map((e) => this.keys.booking(e.id)));
    const multi = this.redis.multi();
    let ended = 0;
    let deleted = 0;
    entries.forEach(({ id, end }, i) => {
      const b = decodeBooking(raws[i] ?? "null");
      // the board's calendar holds it only while it can still block a run
      if (b) {
        multi.zrem(this.keys.boardBookings(b.board), id);
        ended++;
      }
      if (end <= now - retentionMs || !b) {
        multi.del(this.keys.booking(id)).zrem(this.keys.bookings(), id);
        deleted++;
      }
    });
    await multi.exec();
    return { ended, deleted };
  }

  /** Ends of bookings still to come, for the timers that wake the dispatcher. */
  async upcomingEnds(now = Date.now()): Promise<number[]> {
    const res = await this.redis.zrangebyscore(this.keys.bookings(), now, "+inf", "WITHSCORES", "LIMIT", 0, 200);
    return res.filter((_, i) => i % 2 === 1).map(Number);
  }

  private withState(b: Booking, now: number): Booking {
    return { ...b, state: bookingState(b, now) };
  }
}
