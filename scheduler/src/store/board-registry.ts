import type { RedisClient } from "@hil/lab-protocol/redis";
import { BoardSchema, type Board, type BoardState, type Booking, type LabKeys } from "@hil/contracts";
import { parseLease, type Lease } from "../leases/lease-store.js";
import { decodeBooking } from "./booking-codec.js";
import { publishChange } from "./change-publisher.js";
import { LuaScript } from "@hil/lab-protocol";

/** One board as the dispatcher and the API see it: agent's report + scheduler fields + live lease/bookings. */
export interface BoardView {
  board: Board;
  agent: string;
  agentAlive: boolean;
  quarantined: boolean;
  quarantineReason?: string;
  health: number;
  infraFailures: number;
  lease?: Lease;
  /** Bookings not released and not yet ended, earliest first. */
  bookings: Booking[];
  /** The lab's health-check run for this board, while one is pending: the only run a quarantined board takes. */
  checkRun?: string;
  /** The agent the scheduler's own record gives the board to (`keys.boardOwners()`), if any. */
  owner?: string;
  /**
   * Why the board is not dispatched although its hash says it could be: its hash names another agent
   * than its owner, or no verified board-changed has given it an owner yet. Shown as `offline` + `note`.
   */
  disowned?: string;
}

export interface RoleRequirement {
  profile: string;
  labels: Record<string, string>;
  board?: string;
}

export function bookingState(b: Booking, now: number): Booking["state"] {
  if (b.state === "released") return "released";
  if (now >= b.end) return "ended";
  return now >= b.start ? "active" : "scheduled";
}

export function matches(view: BoardView, req: RoleRequirement): boolean {
  if (req.board !== undefined && view.board.id !== req.board) return false;
  if (view.board.profile !== req.profile) return false;
  for (const [k, v] of Object.entries(req.labels)) if (view.board.labels[k] !== v) return false;
  return true;
}

/** quarantined > offline > unauthorized > running/flashing > leased > booked > idle (see docs/scheduler.md). */
export function derivedState(view: BoardView, now: number): BoardState {
  if (view.quarantined) return "quarantined";
  if (!view.agentAlive || view.board.state === "offline" || view.disowned !== undefined) return "offline";
  // an Android device that refuses the agent's adb key: its agent still owns it, nothing can use it
  if (view.board.state === "unauthorized") return "unauthorized";
  if (view.lease && (view.board.state === "running" || view.board.state === "flashing")) return view.board.state;
  if (view.lease) return "leased";
  if (view.bookings.some((b) => bookingState(b, now) === "active")) return "booked";
  return "idle";
}

export function publicBoard(view: BoardView, now: number): Board {
  const active = view.bookings.find((b) => bookingState(b, now) === "active");
  const board: Board = { ...view.board, state: derivedState(view, now), health: view.health };
  if (view.lease) board.currentRun = view.lease.runId;
  else delete board.currentRun;
  if (active) Object.assign(board, { holder: active.holder, holderUntil: active.end, booking: active.id });
  else {
    delete board.holder;
    delete board.holderUntil;
    delete board.booking;
  }
  if (view.disowned !== undefined) board.note = view.disowned;
  else delete board.note;
  return board;
}

/**
 * adjust-health (1 key): KEYS[1] board hash. ARGV[1] health delta · [2] "fail" | "ok" ·
 * [3] consecutive failures that quarantine · [4] quarantine reason. Health stays in 0..100.
 * Returns 1 when this call quarantined the board.
 */
const ADJUST_HEALTH = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local h = tonumber(redis.call('HGET', KEYS[1], 'health') or '100') + tonumber(ARGV[1])
redis.call('HSET', KEYS[1], 'health', tostring(math.max(0, math.min(100, h))))
if ARGV[2] ~= 'fail' then
  redis.call('HSET', KEYS[1], 'fails', '0')
  return 0
end
local f = redis.call('HINCRBY', KEYS[1], 'fails', 1)
if f >= tonumber(ARGV[3]) and redis.call('HGET', KEYS[1], 'quarantined') ~= '1' then
  redis.call('HSET', KEYS[1], 'quarantined', '1', 'quarantineReason', f .. ' ' .. ARGV[4])
  return 1
end
return 0
`);

export class BoardRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
  ) {}

  async ids(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.boards())).sort();
  }

  /** Everything about every registered board, in a few pipelined round trips. */
  async snapshot(now = Date.now()): Promise<BoardView[]> {
    const ids = await this.ids();
    if (ids.length === 0) return [];
    const p1 = this.redis.pipeline();
    for (const id of ids) p1.hmget(this.keys.board(id), "json", "agent", "quarantined", "health", "fails", "quarantineReason", "checkRun");
    p1.mget(...ids.map((id) => this.keys.lease(id)));
    // every booking not yet ended, found through the all-bookings set (score = end)
    p1.zrangebyscore(this.keys.bookings(), `(${now}`, "+inf");
    p1.hgetall(this.keys.boardOwners());
    const r1 = (await p1.exec()) ?? [];
    const owners = (r1[ids.length + 2]?.[1] as Record<string, string> | undefined) ?? {};
    const leases = (r1[ids.length]?.[1] as (string | null)[] | undefined) ?? [];
    const bookingIds = (r1[ids.length + 1]?.[1] as string[] | undefined) ?? [];
    const partial: { id: string; f: (string | null)[]; lease: string | null }[] = [];
    ids.forEach((id, i) => {
      const f = r1[i]?.[1] as (string | null)[] | undefined;
      if (f && f[0] !== null && f[0] !== undefined) partial.push({ id, f, lease: leases[i] ?? null });
    });
    const agents = [...new Set(partial.map((p) => p.f[1] ?? ""))];
    const p2 = this.redis.pipeline();
    for (const a of agents) p2.exists(this.keys.agent(a));
    if (bookingIds.length) p2.mget(...bookingIds.map((b) => this.keys.booking(b)));
    const r2 = (await p2.exec()) ?? [];
    const alive = new Map(agents.map((a, i) => [a, r2[i]?.[1] === 1]));
    const byBoard = new Map<string, Booking[]>();
    for (const raw of (r2[agents.length]?.[1] as (string | null)[] | undefined) ?? []) {
      if (raw === null) continue;
      const b = decodeBooking(raw);
      if (!b || b.state === "released" || b.end <= now) continue;
      byBoard.set(b.board, [...(byBoard.get(b.board) ?? []), b]);
    }
    const views: BoardView[] = [];
    for (const p of partial) {
      const parsed = BoardSchema.safeParse(JSON.parse(p.f[0] ?? "{}"));
      if (!parsed.success) continue;
      const agent = p.f[1] ?? parsed.data.agent;
      const view: BoardView = {
        board: parsed.data,
        agent,
        agentAlive: alive.get(agent) ?? false,
        quarantined: p.f[2] === "1",
        health: p.f[3] === null || p.f[3] === undefined ? 100 : Number(p.f[3]),
        infraFailures: Number(p.f[4] ?? "0"),
        bookings: (byBoard.get(p.id) ?? []).sort((a, b) => a.start - b.start),
      };
      if (p.f[5]) view.quarantineReason = p.f[5];
      if (p.f[6]) view.checkRun = p.f[6];
      const lease = parseLease(p.lease);
      if (lease) view.lease = lease;
      const owner = owners[p.id];
      if (owner !== undefined) view.owner = owner;
      if (owner === undefined) view.disowned = `waiting for a verified board-changed event from agent ${agent}`;
      else if (owner !== agent) view.disowned = `its hash names agent ${agent}, but the board belongs to agent ${owner}`;
      views.push(view);
    }
    return views;
  }

  async setQuarantine(id: string, on: boolean, reason?: string): Promise<boolean> {
    if ((await this.redis.sismember(this.keys.boards(), id)) !== 1) return false;
    if (on) await this.redis.hset(this.keys.board(id), { quarantined: "1", quarantineReason: reason ?? "quarantined by admin" });
    else await this.redis.hset(this.keys.board(id), { quarantined: "0", quarantineReason: "", fails: "0", health: "100" });
    // an admin's decision ends whatever the lab's recovery was doing (see BoardHealth)
    await this.redis.hdel(this.keys.board(id), "autoReturn", "recovery", "checkRun");
    publishChange(this.redis, this.keys, { kind: "board", id, state: on ? "quarantined" : "released-quarantine" });
    return true;
  }

  /**
   * An infrastructure failure on these boards: health drops, and a board with `quarantineAfter`
   * consecutive failures is quarantined. Returns the boards quarantined now.
   */
  async recordInfraFailure(ids: readonly string[], quarantineAfter: number, reason: string): Promise<string[]> {
    const out = await Promise.all(
      ids.map((id) => ADJUST_HEALTH.run(this.redis, [this.keys.board(id)], [-20, "fail", quarantineAfter, `infrastructure failures in a row; last: ${reason}`])),
    );
    const quarantined = ids.filter((_, i) => out[i] === 1);
    for (const id of quarantined) publishChange(this.redis, this.keys, { kind: "board", id, state: "quarantined" });
    return quarantined;
  }

  /** A clean run (pass or test failure): the failure streak ends and health recovers a little. */
  async recordCleanRun(ids: readonly string[]): Promise<void> {
    await Promise.all(ids.map((id) => ADJUST_HEALTH.run(this.redis, [this.keys.board(id)], [5, "ok", 0, ""])));
  }
}
