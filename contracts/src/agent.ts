import { z } from "zod";
import { BoardSchema, BoardStateSchema } from "./board.js";

export const AgentHelloSchema = z
  .object({
    agent: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/),
    host: z.string(),
    pid: z.number().int(),
    version: z.string(),
    startedAt: z.number().int(),
    boards: z.array(BoardSchema),
    /** Devices this agent sees but registers no board for (an Android device no profile's `match` fits, or one not authorized yet), and why. */
    unmatched: z.array(z.object({ serial: z.string(), state: z.string(), reason: z.string() }).strict()).optional(),
  })
  .strict();
export type AgentHello = z.infer<typeof AgentHelloSchema>;

export const HeartbeatSchema = z
  .object({
    agent: z.string(),
    at: z.number().int(),
    boards: z.record(z.string(), BoardStateSchema),
    /** Runs this agent is executing right now (their leases get renewed). */
    runs: z.array(z.string()),
  })
  .strict();
export type Heartbeat = z.infer<typeof HeartbeatSchema>;
