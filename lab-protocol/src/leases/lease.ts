import { createHash } from "node:crypto";
import { decodeJson } from "@hil/contracts";
import { z } from "zod";

/**
 * A board lease as it sits in Redis (`keys.lease(board)`, with a PX TTL). Every agent can read lease
 * keys, so a lease names its token only by hash: knowing it lets nobody renew, release or start the
 * job. The plaintext token travels in the BullMQ job on the owning agent's queue and in the
 * scheduler-only run hash (the claim).
 */
export const LeaseSchema = z
  .object({
    runId: z.string(),
    attempt: z.number().int(),
    /** `leaseTokenHash(token)`: SHA-1 hex, what Lua's `redis.sha1hex` computes from the plaintext. */
    tokenHash: z.string().regex(/^[0-9a-f]{40}$/),
    agent: z.string(),
  })
  .strict();
export type Lease = z.infer<typeof LeaseSchema>;

/**
 * SHA-1 because Redis Lua offers only `redis.sha1hex`; the token is a random UUID, so the hash
 * gives nothing away (there is no second preimage to search for).
 */
export function leaseTokenHash(token: string): string {
  return createHash("sha1").update(token).digest("hex");
}

/** A lease's JSON, or undefined when it is not a lease (an unreadable lease belongs to nobody). */
export function parseLease(raw: string | null | undefined): Lease | undefined {
  return decodeJson(LeaseSchema, raw);
}
