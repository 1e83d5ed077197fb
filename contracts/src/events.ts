import { z } from "zod";
import { BoardSchema } from "./board.js";
import { JobResultSchema } from "./run.js";
import { StepResultSchema } from "./step.js";

/**
 * The lease a job ran under, by hash: SHA-1 hex of the lease token, as in the lease JSON. The
 * plaintext token stays in the job data and the scheduler's claim; the scheduler applies a job event
 * only when this matches the run's current claim and the event's agent is the claim's agent.
 */
const LeaseHashSchema = z.string().regex(/^[0-9a-f]{40}$/, "SHA-1 hex of the lease token");

/**
 * What agents tell the schedulers, appended to the Redis Stream `keys.events()` and read by the
 * schedulers through one consumer group (each event is applied once, by one replica).
 * The scheduler owns every run state transition; agents only report. Each entry is signed by its
 * agent (stream fields `json`, `agent`, `sig`; see @hil/lab-protocol and docs/security.md).
 */
export const AgentEventSchema = z.discriminatedUnion("type", [
  z
    .object({ type: z.literal("job-started"), runId: z.string(), attempt: z.number().int(), agent: z.string(), leaseHash: LeaseHashSchema, at: z.number().int() })
    .strict(),
  z
    .object({
      type: z.literal("step-finished"),
      runId: z.string(),
      attempt: z.number().int(),
      agent: z.string(),
      leaseHash: LeaseHashSchema,
      step: StepResultSchema,
    })
    .strict(),
  z.object({ type: z.literal("job-finished"), agent: z.string(), leaseHash: LeaseHashSchema, result: JobResultSchema }).strict(),
  z.object({ type: z.literal("board-changed"), agent: z.string(), board: BoardSchema }).strict(),
  z.object({ type: z.literal("board-gone"), agent: z.string(), boardId: z.string(), reason: z.string() }).strict(),
]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;
