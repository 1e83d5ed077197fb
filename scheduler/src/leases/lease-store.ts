import { z } from "zod";
import type { Redis } from "ioredis";
import type { LabKeys } from "@hil/contracts";
import { ACQUIRE_BOARDS, RELEASE_LEASES, RENEW_LEASES } from "./lease-scripts.js";

export const LeaseSchema = z.object({ runId: z.string(), attempt: z.number().int(), token: z.string(), agent: z.string() }).strict();
export type Lease = z.infer<typeof LeaseSchema>;

/** What the lease script records on the run hash; the reaper compares it with the live leases. */
export const ClaimSchema = z
  .object({
    attempt: z.number().int(),
    token: z.string(),
    agent: z.string(),
    boards: z.record(z.string(), z.string()),
    at: z.number().int(),
    /** The run's timeout, so the reaper needs nothing else to spot an overdue run. */
    timeoutMs: z.number().int().optional(),
  })
  .strict();
export type Claim = z.infer<typeof ClaimSchema>;

export interface AcquireRequest {
  runId: string;
  submitter: string;
  agent: string;
  attempt: number;
  token: string;
  /** role → board id */
  boards: Record<string, string>;
  now: number;
  /** now + the run's timeout: no other holder's booking may start before it. */
  until: number;
  ttlMs: number;
}

export type AcquireOutcome = { ok: true; claim: Claim } | { ok: false; board?: string; reason: string };

/**
 * Board leases in Redis. The scheduler acquires and releases; agents renew the leases of the runs they
 * execute and drop a job whose lease token is gone.
 */
export class LeaseStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: LabKeys,
  ) {}

  async acquire(req: AcquireRequest): Promise<AcquireOutcome> {
    const boardIds = Object.values(req.boards);
    const keys = [
      this.keys.pending(),
      this.keys.run(req.runId),
      this.keys.activeRuns(),
      this.keys.submitterUsage(),
      this.keys.pendingBySubmitter(req.submitter),
      this.keys.pendingSubmitters(),
    ];
    for (const id of boardIds) keys.push(this.keys.lease(id), this.keys.board(id), this.keys.boardBookings(id), this.keys.agent(req.agent));
    const claim: Claim = { attempt: req.attempt, token: req.token, agent: req.agent, boards: req.boards, at: req.now, timeoutMs: req.until - req.now };
    const lease: Lease = { runId: req.runId, attempt: req.attempt, token: req.token, agent: req.agent };
    const leaseJson = JSON.stringify(lease);
    const args: (string | number)[] = [
      req.runId,
      req.now,
      req.until,
      req.submitter,
      req.ttlMs,
      this.keys.booking(""),
      JSON.stringify(claim),
      req.agent,
      req.attempt,
      ...boardIds.map(() => leaseJson),
    ];
    const res = (await ACQUIRE_BOARDS.run(this.redis, keys, args)) as [number, number?, string?];
    if (res[0] === 1) return { ok: true, claim };
    const idx = res[1] ?? 0;
    return { ok: false, board: idx > 0 ? boardIds[idx - 1] : undefined, reason: String(res[2] ?? "refused") };
  }

  /** Extends the leases still holding `token`; returns the board ids whose lease was lost. */
  async renew(boardIds: readonly string[], token: string, ttlMs: number): Promise<string[]> {
    if (boardIds.length === 0) return [];
    const lost = (await RENEW_LEASES.run(this.redis, boardIds.map((id) => this.keys.lease(id)), [token, Math.round(ttlMs)])) as number[];
    return lost.map((i) => boardIds[i - 1]).filter((id): id is string => id !== undefined);
  }

  /** Deletes the leases that still hold `token`; returns how many were deleted. */
  async release(boardIds: readonly string[], token: string): Promise<number> {
    if (boardIds.length === 0) return 0;
    return (await RELEASE_LEASES.run(this.redis, boardIds.map((id) => this.keys.lease(id)), [token])) as number;
  }

  async get(boardId: string): Promise<Lease | undefined> {
    const raw = await this.redis.get(this.keys.lease(boardId));
    return raw === null ? undefined : LeaseSchema.parse(JSON.parse(raw));
  }

  async getMany(boardIds: readonly string[]): Promise<(Lease | undefined)[]> {
    if (boardIds.length === 0) return [];
    const raws = await this.redis.mget(...boardIds.map((id) => this.keys.lease(id)));
    return raws.map((r) => (r === null ? undefined : LeaseSchema.parse(JSON.parse(r))));
  }
}
