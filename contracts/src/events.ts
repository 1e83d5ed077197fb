import { z } from "zod";
import { BoardSchema } from "./board.js";
import { JobResultSchema } from "./run.js";
import { StepResultSchema } from "./step.js";

/**
 * What agents tell the schedulers, appended to the Redis Stream `keys.events()` and read by the
 * schedulers through one consumer group (each event is applied once, by one replica).
 * The scheduler owns every run state transition; agents only report.
 */
export const AgentEventSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("job-started"), runId: z.string(), attempt: z.number().int(), agent: z.string(), at: z.number().int() }).strict(),
  z
    .object({ type: z.literal("step-finished"), runId: z.string(), attempt: z.number().int(), agent: z.string(), step: StepResultSchema })
    .strict(),
  z.object({ type: z.literal("job-finished"), agent: z.string(), result: JobResultSchema }).strict(),
  z.object({ type: z.literal("board-changed"), agent: z.string(), board: BoardSchema }).strict(),
  z.object({ type: z.literal("board-gone"), agent: z.string(), boardId: z.string(), reason: z.string() }).strict(),
]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;
