import type { RedisClient } from "@hil/lab-protocol/redis";
import { z } from "zod";
import { ArtifactRefSchema, decodeJson, RunSchema, SuiteSchema, TERMINAL_RUN_STATES, type LabKeys, type Run, type RunState } from "@hil/contracts";
import { LuaScript } from "@hil/lab-protocol";
import type { Claim } from "../leases/lease-store.js";
import { publishChange } from "./change-publisher.js";

/** What the dispatcher needs to place a run, fixed at submit (kept beside the Run JSON). */
export const RunPlanSchema = z
  .object({
    submitter: z.string(),
    priority: z.number().int(),
    suite: SuiteSchema,
    roles: z.record(z.string(), z.object({ profile: z.string(), labels: z.record(z.string(), z.string()), board: z.string().optional() }).strict()),
    artifacts: z.record(z.string(), ArtifactRefSchema),
    timeoutMs: z.number().int().positive(),
    maxAttempts: z.number().int().positive(),
    /** The request's queue timeout; the lab's `HIL_QUEUE_TIMEOUT` when absent. */
    queueTimeoutMs: z.number().int().positive().optional(),
    /** A lab health check (docs/scheduler.md, "Board health"): it may take its quarantined board, bookings aside. */
    healthCheck: z.literal(true).optional(),
  })
  .strict();
export type RunPlan = z.infer<typeof RunPlanSchema>;

/**
 * update-run (7 keys + leases): compare-and-set of a run's JSON plus its set memberships, in one step.
 * KEYS[1] run hash · KEYS[2] pending zset · KEYS[3] active-runs zset · KEYS[4] waiting-reasons hash.
 * ARGV[1] expected version · [2] new JSON · [3] pending score, or "" to take it out of pending ·
 * [4] "active" | "inactive" | "keep" · [5] run id · [6] now · [7] next attempt number ·
 * [8] JSON list of boards to avoid next time, or "" to leave it.
 * KEYS[5] submitter-usage hash · KEYS[6] the run submitter's pending zset · KEYS[7] pending-submitters set
 * (the per-submitter index moves with KEYS[2], so the dispatcher can read every submitter's head) ·
 * KEYS[8] files-pending zset (a run that ends is added with its final state: its files are owed from then on) ·
 * KEYS[9..] the claim's lease keys (optional lease handling in the same step):
 * [9] "" | "release" (delete the leases still holding the token, after the write) | "lost" (write only if
 * none of them holds the token any more; the claim is kept as `lostClaim`, so the agent's late report can be recognised) | "usage" (leave the leases; only the usage drops) · [10] the claim's plaintext token (leases hold its SHA-1, `tokenHash`) ·
 * [11] submitter whose usage drops by one, or "" ·
 * [12] the run's submitter (member of KEYS[7]) · [13] "1" when the new state is final (the run joins KEYS[8]).
 * Returns 1 when written, 0 when someone else changed the run first, 2 when "lost" found a live lease.
 */
const UPDATE_RUN = new LuaScript(`
local v = redis.call('HGET', KEYS[1], 'ver')
if (v or '0') ~= ARGV[1] then return 0 end
local mode = ARGV[9] or ''
local th = redis.sha1hex(ARGV[10] or '')
if mode == 'lost' then
  for i = 9, #KEYS do
    local raw = redis.call('GET', KEYS[i])
    if raw and cjson.decode(raw).tokenHash == th then return 2 end
  end
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'ver', tostring(tonumber(ARGV[1]) + 1), 'na', ARGV[7])
if mode == 'lost' then
  local c = redis.call('HGET', KEYS[1], 'claim')
  if c then redis.call('HSET', KEYS[1], 'lostClaim', c) end
end
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'exclude', ARGV[8]) end
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[5])
  redis.call('ZADD', KEYS[6], ARGV[3], ARGV[5])
  redis.call('SADD', KEYS[7], ARGV[12])
else
  redis.call('ZREM', KEYS[2], ARGV[5])
  redis.call('ZREM', KEYS[6], ARGV[5])
  if redis.call('ZCARD', KEYS[6]) == 0 then redis.call('SREM', KEYS[7], ARGV[12]) end
end
if ARGV[4] == 'inactive' then
  redis.call('ZREM', KEYS[3], ARGV[5])
  redis.call('HDEL', KEYS[4], ARGV[5])
elseif ARGV[4] == 'active' then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
end
if mode == 'release' then
  for i = 9, #KEYS do
    local raw = redis.call('GET', KEYS[i])
    if raw and cjson.decode(raw).tokenHash == th then redis.call('DEL', KEYS[i]) end
  end
end
if mode ~= '' and ARGV[11] ~= '' then redis.call('HINCRBY', KEYS[5], ARGV[11], -1) end
if ARGV[13] == '1' then redis.call('ZADD', KEYS[8], ARGV[6], ARGV[5]) end
return 1
`);

export interface StoredRun {
  run: Run;
  version: number;
  claim?: Claim;
  /** The last claim the reaper declared lost (its leases lapsed unseen): whose late report may still stand. */
  lostClaim?: Claim;
  exclude: string[];
}

export interface RunChange {
  run: Run;
  /** Pending score, or null when the run must not be pending. */
  pending: number | null;
  active?: "active" | "inactive" | "keep";
  /** Boards the next attempt should avoid (set together with the run, so a dispatcher never sees one without the other). */
  exclude?: string[];
  /**
   * The claim's leases, handled in the same atomic step as the write: `release` frees them (a clean
   * end: no reader ever sees the run still running without its leases), `lost` writes only while none
   * of them holds the token (the reaper: an agent that is still renewing keeps its run). Either way the
   * submitter's running count drops by one when `submitter` is given.
   */
  leases?: { mode: "release" | "lost" | "usage"; boardIds: string[]; token: string; submitter?: string };
}

/** What `update` did: written, or why not (`lease-held`: a `lost` change found the agent still holding a lease). */
export type UpdateResult = { before: StoredRun; after: Run; change: RunChange } | null;

export interface RunFilter {
  states?: RunState[];
  submitter?: string;
  suite?: string;
  board?: string;
  /** Prefix of the request's `ci.commit`, compared case-insensitively. */
  commit?: string;
  /** createdAt bounds, both exclusive. */
  after?: number;
  before?: number;
  limit: number;
  /** Where the previous page ended: `<createdAt>:<run id>` (or a bare createdAt, exclusive). */
  cursor?: string;
}

/** Priority first (0..100, higher first), then age: one number so Redis keeps the order. */
export function pendingScore(priority: number, queuedAt: number): number {
  return (100 - priority) * 1e13 + queuedAt;
}

export function isTerminal(state: RunState): boolean {
  return TERMINAL_RUN_STATES.includes(state);
}

export class RunStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
  ) {}

  async create(run: Run, plan: RunPlan): Promise<void> {
    await this.redis
      .multi()
      .hset(this.keys.run(run.id), { json: JSON.stringify(run), ver: "1", na: "1", plan: JSON.stringify(plan) })
      .zadd(this.keys.runs(), run.createdAt, run.id)
      .zadd(this.keys.runsBySubmitter(run.submitter), run.createdAt, run.id)
      .zadd(this.keys.pending(), pendingScore(plan.priority, run.createdAt), run.id)
      .zadd(this.keys.pendingBySubmitter(run.submitter), pendingScore(plan.priority, run.createdAt), run.id)
      .sadd(this.keys.pendingSubmitters(), run.submitter)
      // the reaper looks at once and then schedules the run's queue-timeout check itself
      .zadd(this.keys.queueChecks(), run.createdAt, run.id)
      .exec();
    publishChange(this.redis, this.keys, { kind: "run", id: run.id, state: run.state });
  }

  async get(id: string): Promise<StoredRun | undefined> {
    const [json, ver, claim, exclude, lostClaim] = await this.redis.hmget(this.keys.run(id), "json", "ver", "claim", "exclude", "lostClaim");
    if (json === null || json === undefined) return undefined;
    return {
      // written only by this store after validation at submit: a cast, not a re-parse, on this hot path
      run: JSON.parse(json) as Run,
      version: Number(ver ?? "0"),
      claim: claim === null || claim === undefined ? undefined : (JSON.parse(claim) as Claim),
      ...(lostClaim ? { lostClaim: JSON.parse(lostClaim) as Claim } : {}),
      exclude: exclude === null || exclude === undefined ? [] : (JSON.parse(exclude) as string[]),
    };
  }

  async plan(id: string): Promise<RunPlan | undefined> {
    const raw = await this.redis.hget(this.keys.run(id), "plan");
    return raw === null ? undefined : RunPlanSchema.parse(JSON.parse(raw));
  }

  /**
   * Applies `change` atomically against concurrent writers (other replicas, the reaper, the API):
   * re-reads and re-decides until its write wins. `change` returns null to leave the run alone.
   */
  async update(id: string, change: (cur: StoredRun) => RunChange | null, first?: StoredRun): Promise<UpdateResult> {
    for (let i = 0; i < 50; i++) {
      const cur = i === 0 && first ? first : await this.get(id);
      if (!cur) return null;
      const next = change(cur);
      if (!next) return null;
      const active = next.active ?? (isTerminal(next.run.state) ? "inactive" : "keep");
      const l = next.leases;
      const keys = [
        this.keys.run(id),
        this.keys.pending(),
        this.keys.activeRuns(),
        this.keys.waitingReasons(),
        this.keys.submitterUsage(),
        this.keys.pendingBySubmitter(cur.run.submitter),
        this.keys.pendingSubmitters(),
        this.keys.filesPending(),
      ];
      if (l) for (const b of l.boardIds) keys.push(this.keys.lease(b));
      const ok = await UPDATE_RUN.run(this.redis, keys, [
        cur.version,
        JSON.stringify(next.run),
        next.pending === null ? "" : next.pending,
        active,
        id,
        Date.now(),
        next.run.attempts.length + 1,
        next.exclude ? JSON.stringify(next.exclude) : "",
        l?.mode ?? "",
        l?.token ?? "",
        l?.submitter ?? "",
        cur.run.submitter,
        isTerminal(next.run.state) && !isTerminal(cur.run.state) ? "1" : "",
      ]);
      if (ok === 1) {
        publishChange(this.redis, this.keys, { kind: "run", id, state: next.run.state });
        return { before: cur, after: next.run, change: next };
      }
      if (ok === 2) return null;
    }
    throw new Error(`run ${id} kept changing under us; retry the request`);
  }

  /** Deletes finished runs created before `before` (their files stay in the artifact directory). */
  async prune(before: number, max = 200): Promise<number> {
    const ids = await this.redis.zrangebyscore(this.keys.runs(), "-inf", `(${before}`, "LIMIT", 0, max);
    let n = 0;
    for (const id of ids) {
      const s = await this.get(id);
      if (s && !isTerminal(s.run.state)) continue;
      const multi = this.redis.multi().del(this.keys.run(id), this.keys.runLog(id)).zrem(this.keys.runs(), id);
      if (s) multi.zrem(this.keys.runsBySubmitter(s.run.submitter), id);
      await multi.exec();
      n++;
    }
    return n;
  }

  /**
   * Newest first, filtered. The createdAt bounds (after, before, cursor) are the index's score range, so Redis
   * skips what lies outside them; the other filters are checked on each run. A scan that reaches its budget
   * before filling the page still answers `nextCursor` (where it stopped), so a rare filter pages on instead of
   * ending early: a page may hold fewer than `limit` runs, and the list ends only where `nextCursor` is absent.
   * The cursor is a place in the index, `<createdAt>:<run id>` (Redis orders runs of one millisecond by id,
   * descending here), so a page that ends inside a millisecond goes on with the rest of it; a bare
   * `<createdAt>` (older clients) continues below that millisecond.
   */
  async list(filter: RunFilter): Promise<{ runs: Run[]; nextCursor?: string }> {
    const source = filter.submitter ? this.keys.runsBySubmitter(filter.submitter) : this.keys.runs();
    const out: Run[] = [];
    let at = parseRunCursor(filter.cursor);
    if (filter.before !== undefined && (at === undefined || filter.before <= at.score)) at = { score: filter.before };
    const min = filter.after === undefined ? "-inf" : `(${filter.after}`;
    const commit = filter.commit?.toLowerCase();
    const page = Math.max(filter.limit * 2, 100);
    let lastScanned: RunCursor | undefined;
    for (let scanned = 0; out.length < filter.limit && scanned < 20_000; scanned += page) {
      // runs of the cursor's own millisecond that come before it in the order were shown already
      const id = at?.id;
      const max = at === undefined ? "+inf" : id === undefined ? `(${at.score}` : String(at.score);
      const offset = at === undefined || id === undefined ? 0 : (await this.redis.zrangebyscore(source, at.score, at.score)).filter((m) => m >= id).length;
      const ids = await this.redis.zrevrangebyscore(source, max, min, "WITHSCORES", "LIMIT", offset, page);
      if (ids.length === 0) return { runs: out };
      const pipe = this.redis.pipeline();
      for (let i = 0; i < ids.length; i += 2) pipe.hget(this.keys.run(ids[i] ?? ""), "json");
      const res = (await pipe.exec()) ?? [];
      for (const [, raw] of res) {
        if (typeof raw !== "string") continue;
        // one damaged record must not take the whole list down for everybody: skip it
        const run = decodeJson(RunSchema, raw);
        if (!run) continue;
        if (filter.states && !filter.states.includes(run.state)) continue;
        if (filter.suite && run.request.suite !== filter.suite) continue;
        if (filter.board && !run.attempts.some((a) => Object.values(a.boards).includes(filter.board ?? ""))) continue;
        if (commit !== undefined && !(run.request.ci?.commit?.toLowerCase().startsWith(commit) ?? false)) continue;
        out.push(run);
        if (out.length >= filter.limit) break;
      }
      if (out.length >= filter.limit) break;
      lastScanned = { score: Number(ids[ids.length - 1]), id: ids[ids.length - 2] ?? "" };
      at = lastScanned;
      if (ids.length < page * 2) return { runs: out };
    }
    const lastRun = out[out.length - 1];
    if (out.length >= filter.limit && lastRun) return { runs: out, nextCursor: `${lastRun.createdAt}:${lastRun.id}` };
    return lastScanned === undefined ? { runs: out } : { runs: out, nextCursor: `${lastScanned.score}:${lastScanned.id}` };
  }
}

interface RunCursor {
  score: number;
  /** Absent: continue below `score`; present: continue after this run within `score`. */
  id?: string;
}

/** `<createdAt>:<run id>`, or a bare `<createdAt>`; the API schema checked the form. */
function parseRunCursor(cursor: string | undefined): RunCursor | undefined {
  if (cursor === undefined) return undefined;
  const colon = cursor.indexOf(":");
  return colon === -1 ? { score: Number(cursor) } : { score: Number(cursor.slice(0, colon)), id: cursor.slice(colon + 1) };
}
