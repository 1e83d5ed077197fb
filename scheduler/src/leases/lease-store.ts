import { z } from "zod";
import { LeaseStore as ProtocolLeaseStore, leaseTokenHash, type Lease } from "@hil/lab-protocol";
import { ABANDON_CLAIM, ACQUIRE_BOARDS, SETTLE_CLAIM } from "./lease-scripts.js";

export { LeaseSchema, leaseTokenHash, parseLease, type Lease } from "@hil/lab-protocol";

/**
 * What the lease script records on the run hash; the reaper compares it with the live leases. It holds
 * the plaintext lease token, so it lives only in the run hash, which agents cannot read (Redis ACL).
 */
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
 * The scheduler's side of the leases: the shared renew/release/read of @hil/lab-protocol, plus the
 * all-or-nothing acquire that only the scheduler runs.
 */
export class LeaseStore extends ProtocolLeaseStore {
  async acquire(req: AcquireRequest): Promise<AcquireOutcome> {
    const boardIds = Object.values(req.boards);
    const keys = [
      this.keys.pending(),
      this.keys.run(req.runId),
      this.keys.activeRuns(),
      this.keys.submitterUsage(),
      this.keys.pendingBySubmitter(req.submitter),
      this.keys.pendingSubmitters(),
      this.keys.boardOwners(),
      this.keys.claimIntents(),
    ];
    for (const id of boardIds) keys.push(this.keys.lease(id), this.keys.board(id), this.keys.boardBookings(id), this.keys.agent(req.agent));
    const claim: Claim = { attempt: req.attempt, token: req.token, agent: req.agent, boards: req.boards, at: req.now, timeoutMs: req.until - req.now };
    const lease: Lease = { runId: req.runId, attempt: req.attempt, tokenHash: leaseTokenHash(req.token), agent: req.agent };
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
      JSON.stringify(lease),
      ...boardIds,
    ];
    const res = (await ACQUIRE_BOARDS.run(this.redis, keys, args)) as [number, number?, string?];
    if (res[0] === 1) return { ok: true, claim };
    const idx = res[1] ?? 0;
    return { ok: false, board: idx > 0 ? boardIds[idx - 1] : undefined, reason: String(res[2] ?? "refused") };
  }

  /**
   * A claim the dispatcher never marked on its run: `settle` frees its leases and the submitter's usage
   * (once, whoever calls), `drop` only forgets the intent (the run was marked and its job added).
   * Returns whether this call removed the intent.
   */
  async settleClaim(runId: string, claim: Claim, submitter: string, mode: "settle" | "drop"): Promise<boolean> {
    const keys = [this.keys.claimIntents(), this.keys.run(runId), this.keys.submitterUsage(), ...Object.values(claim.boards).map((b) => this.keys.lease(b))];
    return (await SETTLE_CLAIM.run(this.redis, keys, [runId, claim.at, claim.token, submitter, mode])) === 1;
  }

  /** Back to pending, the claim undone, if the run is still at `version` (queued, claim not marked). */
  async abandonClaim(runId: string, claim: Claim, submitter: string, version: number, pendingScore: number): Promise<boolean> {
    const keys = [
      this.keys.claimIntents(),
      this.keys.run(runId),
      this.keys.submitterUsage(),
      this.keys.pending(),
      this.keys.pendingBySubmitter(submitter),
      this.keys.pendingSubmitters(),
      this.keys.activeRuns(),
      ...Object.values(claim.boards).map((b) => this.keys.lease(b)),
    ];
    return (await ABANDON_CLAIM.run(this.redis, keys, [runId, claim.at, claim.token, submitter, version, pendingScore])) === 1;
  }
}
