import { randomUUID } from "node:crypto";
import type { SchedulerContext } from "../context.js";
import type { Lease } from "../leases/lease-store.js";
import { bookingState, matches, type BoardView, type RoleRequirement } from "../store/board-registry.js";
import type { RunPlan } from "../store/run-store.js";
import { enqueueClaim, jobIdOf } from "./claim-sweep.js";
import { fairOrder, type PendingEntry } from "./fair-order.js";

const BATCH = 500;
/** How deep an ordinary pass reads the pending set (a pass that fills this many boards runs again at once). */
const HEAD = 100;
const BOARD_CACHE_MS = 1000;

interface Candidate {
  entry: PendingEntry;
  plan: RunPlan;
  exclude: Set<string>;
  attempt: number;
  createdAt: number;
}

type Pick = { agent: string; boards: Record<string, string> } | { reason: string; matching: string[] };

/**
 * Decides which pending run goes to which board(s), leases them through the Lua script (the arbiter
 * between scheduler replicas) and hands the job to the owning agent's BullMQ queue.
 * Passes are coalesced: a wake during a pass causes exactly one more pass.
 */
export class Dispatcher {
  private running = false;
  private again = false;
  private stopped = false;
  private readonly lastReason = new Map<string, string>();
  private readonly plans = new Map<string, Omit<Candidate, "entry">>();
  private lastExplain = 0;
  private boardCache?: { at: number; views: BoardView[] };
  private boardsDirty = true;
  /**
   * Claims run while the next pass plans: a pass never waits for Redis round trips of the previous
   * one. Boards and runs with a claim in flight are left out of the next pass.
   */
  private readonly inflight = new Set<Promise<void>>();
  private readonly inflightBoards = new Set<string>();
  private readonly inflightRuns = new Set<string>();
  /** Boards the lease script just refused (a cached fact was stale): skipped briefly. */
  private readonly cooling = new Map<string, number>();
  /** The lease JSON each cached view's `lease` was parsed from. */
  private readonly leaseRaw = new Map<string, string>();
  /** Submitter → sequence number of its latest dispatch from this replica (fair-share tie-break). */
  private readonly lastServed = new Map<string, number>();
  private served = 0;
  /** Submitters with pending runs and the free board count, as the previous pass saw them. */
  private submitters: string[] = [];
  private lastFree = 0;

  constructor(private readonly ctx: SchedulerContext) {}

  /** `refreshBoards` after a change to boards, agents, bookings or quarantine (else board facts are reused for a second). */
  wake(refreshBoards = false): void {
    if (refreshBoards) this.boardsDirty = true;
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
  }

  /** Resolves once no pass and no claim is running (for a graceful stop). */
  async idle(): Promise<void> {
    while (this.running || this.inflight.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        try {
          const dispatched = await this.pass();
          // a full batch may have more behind it
          if (dispatched >= 50) this.again = true;
        } catch (err) {
          if (!this.stopped) this.ctx.log.error({ err }, "dispatch pass failed; the next tick retries");
        }
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
    }
  }

  /** One pass over the head of the pending set; returns how many runs were dispatched. */
  async pass(): Promise<number> {
    const { redis, keys } = this.ctx;
    const now = Date.now();
    // independent reads go out together (one round trip on the shared connection)
    // Each submitter's head is read in the same round trip as the rest, for the submitters and as deep
    // as the previous pass needed; only a submitter new since then costs a second round trip.
    const known = this.submitters;
    const [views, headRaw, usageRaw, submitters, knownHeads] = await Promise.all([
      this.boardViews(now),
      // an explaining pass looks at the whole batch; others only as deep as a pass can use
      redis.zrange(keys.pending(), "0", String((now - this.lastExplain >= this.ctx.config.tickMs ? BATCH : HEAD) - 1), "WITHSCORES"),
      redis.hgetall(keys.submitterUsage()),
      redis.smembers(keys.pendingSubmitters()),
      this.submitterHeads(known, Math.min(HEAD, this.lastFree + 8)),
    ]);
    this.submitters = submitters;
    for (const [id, until] of this.cooling) if (until <= now) this.cooling.delete(id);
    const free = new Map(
      views.filter((v) => this.usable(v) && !this.inflightBoards.has(v.board.id) && !this.cooling.has(v.board.id)).map((v) => [v.board.id, v]),
    );
    // Explaining why runs wait costs a look at every pending run: once per tick is enough.
    const explain = now - this.lastExplain >= this.ctx.config.tickMs;
    if (free.size === 0 && !explain) return 0;
    // Look only as deep into the queue as the free boards can use; an explaining pass looks at the whole batch.
    const depth = explain ? BATCH : Math.min(BATCH, Math.max(50, free.size * 4));
    const head = new Map<string, number>();
    for (let i = 0; i + 1 < headRaw.length && head.size < depth; i += 2) head.set(headRaw[i] ?? "", Number(headRaw[i + 1]));
    // The global head alone holds only the oldest runs: a submitter whose runs are younger than a big
    // backlog would wait for it to drain. Each submitter's own head (same score: its best runs first)
    // joins the window, so fair share sees every submitter with pending runs.
    this.lastFree = free.size;
    if (free.size > 0) {
      const newcomers = submitters.filter((x) => !known.includes(x));
      const heads = newcomers.length > 0 ? [knownHeads, await this.submitterHeads(newcomers, Math.min(HEAD, free.size + 8))] : [knownHeads];
      for (const h of heads) for (const [id, score] of h) head.set(id, score);
    }
    if (head.size === 0) return 0;
    if (explain) this.lastExplain = now;
    const candidates = await this.load(head);
    const running = new Map(Object.entries(usageRaw).map(([k, v]) => [k, Number(v)]));
    const order = fairOrder([...candidates.values()].map((c) => c.entry), running, this.lastServed);
    const reserved = new Set<string>();
    let fired = 0;
    const reasons = new Map<string, string>();
    for (const entry of order) {
      if (free.size === 0 && !explain) break;
      const c = candidates.get(entry.id);
      if (!c || this.inflightRuns.has(entry.id)) continue;
      const pick = free.size === 0 ? { reason: this.describeWait(c, views, now), matching: [] } : this.pick(c, views, free, reserved, now);
      if ("reason" in pick) {
        reasons.set(entry.id, pick.reason);
        if (now - c.createdAt > this.ctx.config.reserveAfterMs) for (const id of pick.matching) reserved.add(id);
        continue;
      }
      for (const id of Object.values(pick.boards)) free.delete(id);
      this.fire(c, pick.agent, pick.boards, now);
      fired++;
    }
    await this.recordReasons(reasons);
    return fired;
  }

  /**
   * The first `per` runs of each submitter's pending index, one pipelined ZRANGE each. A submitter can
   * take at most as many boards as are free in a pass; a few more leave room for runs that do not fit.
   */
  private async submitterHeads(submitters: readonly string[], per: number): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (submitters.length === 0) return out;
    const pipe = this.ctx.redis.pipeline();
    for (const s of submitters) pipe.zrange(this.ctx.keys.pendingBySubmitter(s), "0", String(per - 1), "WITHSCORES");
    for (const [err, raw] of (await pipe.exec()) ?? []) {
      if (err || !Array.isArray(raw)) continue;
      const flat = raw as string[];
      for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i] ?? "", Number(flat[i + 1]));
    }
    return out;
  }

  private fire(c: Candidate, agent: string, boards: Record<string, string>, now: number): void {
    const ids = Object.values(boards);
    for (const id of ids) this.inflightBoards.add(id);
    this.inflightRuns.add(c.entry.id);
    if (this.lastServed.size > 10_000) this.lastServed.clear();
    this.lastServed.set(c.plan.submitter, ++this.served);
    const p: Promise<void> = this.claim(c, agent, boards, now)
      .then(() => undefined)
      .catch((err: unknown) => {
        this.ctx.log.error({ err, run: c.entry.id }, "claiming boards failed; the run stays queued and is retried");
      })
      .finally(() => {
        for (const id of ids) this.inflightBoards.delete(id);
        this.inflightRuns.delete(c.entry.id);
        this.inflight.delete(p);
      });
    this.inflight.add(p);
  }

  /**
   * Board facts (profile, labels, agent, liveness, bookings) are reused for up to a second unless
   * something changed; leases change all the time and are re-read on every pass in one MGET. A stale
   * fact costs at most a refused lease script, never a wrong lease: the script re-checks everything.
   */
  private async boardViews(now: number): Promise<BoardView[]> {
    if (this.boardsDirty || !this.boardCache || now - this.boardCache.at > BOARD_CACHE_MS) {
      this.boardsDirty = false;
      this.leaseRaw.clear();
      this.boardCache = { at: now, views: await this.ctx.boards.snapshot(now) };
      return this.boardCache.views;
    }
    const views = this.boardCache.views;
    if (views.length === 0) return views;
    const raws = await this.ctx.redis.mget(...views.map((v) => this.ctx.keys.lease(v.board.id)));
    // Passes never overlap, so the cached views are updated in place (no 200 copies per pass), and a
    // lease seen on the previous pass is not parsed again.
    views.forEach((v, i) => {
      const raw = raws[i];
      if (!raw) {
        delete v.lease;
        this.leaseRaw.delete(v.board.id);
      } else if (this.leaseRaw.get(v.board.id) !== raw || !v.lease) {
        v.lease = JSON.parse(raw) as Lease;
        this.leaseRaw.set(v.board.id, raw);
      }
    });
    return views;
  }

  /**
   * Plans are fixed at submit and cached with the exclusions and attempt number seen; a retry
   * changes both, and `claim` re-reads them before leasing, so the cache is never trusted blindly.
   */
  private async load(head: Map<string, number>): Promise<Map<string, Candidate>> {
    const { redis, keys } = this.ctx;
    const missing = [...head.keys()].filter((id) => !this.plans.has(id));
    if (missing.length > 0) {
      const pipe = redis.pipeline();
      for (const id of missing) pipe.hmget(keys.run(id), "exclude", "na", "plan");
      const res = (await pipe.exec()) ?? [];
      missing.forEach((id, i) => {
        const f = res[i]?.[1] as (string | null)[] | undefined;
        if (!f || !f[2]) return;
        // written by RunStore.create from a validated plan: a cast, not a re-parse, on the hot path
        const plan = JSON.parse(f[2]) as RunPlan;
        if (this.plans.size > 50_000) this.plans.clear();
        this.plans.set(id, {
          plan,
          // the pending score is (100 - priority) · 1e13 + createdAt: no need to read the run's JSON for its age
          createdAt: (head.get(id) ?? 0) % 1e13,
          exclude: new Set(f[0] ? (JSON.parse(f[0]) as string[]) : []),
          attempt: Number(f[1] ?? "1"),
        });
      });
    }
    const out = new Map<string, Candidate>();
    for (const id of head.keys()) {
      const c = this.plans.get(id);
      if (!c) continue;
      out.set(id, { entry: { id, submitter: c.plan.submitter, priority: c.plan.priority, queuedAt: c.createdAt }, ...c });
    }
    return out;
  }

  /** The agent-reported busy states may be a second old in the cache; the lease script checks the live one. */
  private usable(v: BoardView): boolean {
    // a quarantined board is free only for its own health check (see pick)
    return (!v.quarantined || v.checkRun !== undefined) && v.agentAlive && !v.lease && v.board.state !== "offline" && v.board.state !== "unauthorized" && v.disowned === undefined;
  }

  /** Another holder's booking overlapping [now, now + timeout) keeps the run off the board. */
  private bookingBlocks(v: BoardView, submitter: string, until: number, now: number, healthCheck = false): string | undefined {
    if (healthCheck) return undefined;
    const b = v.bookings.find((x) => x.holder !== submitter && x.start < until && x.end > now && bookingState(x, now) !== "released");
    if (!b) return undefined;
    return `board ${v.board.id} is booked by ${b.holder} from ${new Date(b.start).toISOString()} until ${new Date(b.end).toISOString()}`;
  }

  private pick(c: Candidate, views: BoardView[], free: Map<string, BoardView>, reserved: Set<string>, now: number): Pick {
    const until = now + c.plan.timeoutMs;
    const roles = Object.entries(c.plan.roles);
    const matching = new Set<string>();
    let reason = "";
    // Agents that could host every role, tried with non-excluded boards first, then any.
    for (const avoidExcluded of [true, false]) {
      const byAgent = new Map<string, BoardView[]>();
      for (const v of free.values()) {
        if (reserved.has(v.board.id)) continue;
        if (v.quarantined && v.checkRun !== c.entry.id) continue;
        if (avoidExcluded && c.exclude.has(v.board.id)) continue;
        const list = byAgent.get(v.agent) ?? [];
        list.push(v);
        byAgent.set(v.agent, list);
      }
      for (const [agent, boards] of byAgent) {
        const taken: Record<string, string> = {};
        const used = new Set<string>();
        let ok = true;
        for (const [role, req] of roles) {
          const fit = boards.find((v) => !used.has(v.board.id) && matches(v, req as RoleRequirement));
          if (fit) matching.add(fit.board.id);
          const hc = c.plan.healthCheck === true;
          const blocked = fit ? this.bookingBlocks(fit, c.plan.submitter, until, now, hc) : undefined;
          const usable = boards.find((v) => !used.has(v.board.id) && matches(v, req as RoleRequirement) && !this.bookingBlocks(v, c.plan.submitter, until, now, hc));
          if (!usable) {
            reason = blocked ?? reason;
            ok = false;
            break;
          }
          taken[role] = usable.board.id;
          used.add(usable.board.id);
        }
        if (ok) return { agent, boards: taken };
      }
      // Only fall back to excluded boards when no other matching board exists at all.
      const others = views.some((v) => !c.exclude.has(v.board.id) && !v.quarantined && roles.some(([, r]) => matches(v, r as RoleRequirement)));
      if (others) break;
    }
    if (!reason) reason = this.describeWait(c, views, now);
    return { reason, matching: [...matching] };
  }

  private describeWait(c: Candidate, views: BoardView[], now: number): string {
    for (const [role, req] of Object.entries(c.plan.roles)) {
      const all = views.filter((v) => matches(v, req as RoleRequirement));
      const what = req.board ?? `${req.profile}${Object.keys(req.labels).length ? ` ${JSON.stringify(req.labels)}` : ""}`;
      if (all.length === 0) return `no registered board for role ${role} (${what})`;
      if (all.every((v) => v.quarantined)) return `every ${what} board is quarantined`;
      if (all.every((v) => v.quarantined || !v.agentAlive || v.disowned !== undefined)) return `every ${what} board is offline`;
      const booked = all.map((v) => this.bookingBlocks(v, c.plan.submitter, now + c.plan.timeoutMs, now)).find(Boolean);
      if (all.every((v) => v.lease || v.quarantined || !v.agentAlive)) return `every ${what} board is busy`;
      if (booked) return booked;
    }
    return Object.keys(c.plan.roles).length > 1 ? "waiting for all its boards to be free on one agent at once" : "waiting for a free board";
  }

  /**
   * Three round trips: the lease script (which also records the claim's intent) with a read of the run
   * behind it (pipelined on one connection, so the read sees the claim), then the run update and the job
   * together, then the intent is dropped. If the update loses (a cancel got in between, or the reaper gave
   * a slow claim back), the leases go back and the job is withdrawn; an agent that already took it finds
   * no lease and drops it. A dispatcher that stops anywhere in between leaves the intent: the reaper's
   * `ClaimSweep` finishes or undoes the claim.
   */
  private async claim(c: Candidate, agent: string, boards: Record<string, string>, now: number): Promise<boolean> {
    const token = randomUUID();
    const [out, cur] = await Promise.all([
      this.ctx.leases.acquire({
        runId: c.entry.id,
        submitter: c.plan.submitter,
        agent,
        attempt: c.attempt,
        token,
        boards,
        now,
        until: now + c.plan.timeoutMs,
        ttlMs: this.ctx.config.leaseTtlMs,
      }),
      this.ctx.runs.get(c.entry.id),
    ]);
    if (!out.ok) {
      if (out.reason === "stale-attempt") this.plans.delete(c.entry.id); // retried since it was cached
      if (out.board !== undefined) {
        // a cached fact about this board was stale: look again, and leave it alone for a moment
        this.cooling.set(out.board, Date.now() + 250);
        this.boardsDirty = true;
      } else {
        // the run went elsewhere (another replica) or changed: its boards are still free for others
        this.wake();
      }
      return false;
    }
    // test hook (HIL_TEST_STOP_AFTER_CLAIM): die exactly where a killed scheduler leaves only the claim
    if (this.ctx.config.stopAfterClaim) process.kill(process.pid, "SIGKILL");
    const claim = out.claim;
    const [updated] = await Promise.all([
      this.ctx.runs.update(
        c.entry.id,
        (s) => {
          if (s.run.state !== "queued" || s.run.attempts.length + 1 !== c.attempt) return null;
          // the reaper gave this claim back (it took too long) or another one replaced it
          if (s.claim?.token !== token) return null;
          const run = { ...s.run, state: "leased" as const, boards, steps: [], cases: [] };
          delete run.waitingFor;
          run.attempts = [...s.run.attempts, { attempt: c.attempt, boards, agent }];
          return { run, pending: null };
        },
        // read behind the script on the same connection, so it holds the claim; not when the script had to be
        // loaded first (NOSCRIPT: the EVAL went out after the read), then the update reads the run itself
        cur?.claim?.token === token ? cur : undefined,
      ),
      enqueueClaim(this.ctx, c.entry.id, c.plan, claim),
    ]);
    this.lastReason.delete(c.entry.id);
    this.plans.delete(c.entry.id);
    if (!updated) {
      // Undone once, by whoever removes the claim's intent (this call, or a reaper that found it first).
      await this.ctx.leases.settleClaim(c.entry.id, claim, c.plan.submitter, "settle");
      await this.ctx.queues.remove(agent, jobIdOf(c.entry.id, c.attempt));
      return false;
    }
    // marked and enqueued: the intent has done its job
    await this.ctx.leases.settleClaim(c.entry.id, claim, c.plan.submitter, "drop");
    if (c.attempt === 1) this.ctx.metrics.dispatched(Date.now() - c.createdAt);
    return true;
  }

  private async recordReasons(reasons: Map<string, string>): Promise<void> {
    const changed: Record<string, string> = {};
    for (const [id, r] of reasons) {
      if (this.lastReason.get(id) !== r) changed[id] = r;
      this.lastReason.set(id, r);
    }
    if (this.lastReason.size > 20_000) this.lastReason.clear();
    if (Object.keys(changed).length > 0) await this.ctx.redis.hset(this.ctx.keys.waitingReasons(), changed);
  }
}
