import { z } from "zod";
import { BoardIdSchema } from "./board.js";
import { ArtifactRefSchema } from "./run.js";

/** Console input is bounded: a pasted line or a few keystrokes, never a file transfer. */
export const CONSOLE_INPUT_MAX_BYTES = 4096;

const base = {
  /** Scheduler-assigned id, repeated in the agent's log lines about the command. */
  id: z.string().min(1).max(64),
  board: BoardIdSchema,
  /** Who asked (the audit log has the rest). */
  actor: z.string().min(1).max(128),
  /** Epoch ms when the scheduler queued it; an agent drops commands that waited too long. */
  at: z.number().int().nonnegative(),
};

/**
 * What the scheduler asks an agent to do to a board on behalf of the board's holder, through the
 * agent's command stream (`keys.agentCommands(agent)`). Outcomes come back as board log lines.
 */
export const AgentCommandSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("console"), ...base, bytes: z.base64().max(Math.ceil(CONSOLE_INPUT_MAX_BYTES / 3) * 4) }).strict(),
  z.object({ type: z.literal("reset"), ...base, mode: z.enum(["run", "download"]) }).strict(),
  /** Power the board off and on (a virtual board's own power-cycle; a hub port's power where the agent can switch it). */
  z.object({ type: z.literal("power-cycle"), ...base }).strict(),
  z.object({ type: z.literal("flash"), ...base, artifact: ArtifactRefSchema, offset: z.number().int().nonnegative().max(0x4000000) }).strict(),
  /** Serve the board's serial port to the holder's `hil serial`: connect to the scheduler's tunnel `tunnel` and speak RFC 2217 on it. */
  z.object({ type: z.literal("serial"), ...base, tunnel: z.string().regex(/^[0-9a-f-]{36}$/, "a tunnel id") }).strict(),
]);
export type AgentCommand = z.infer<typeof AgentCommandSchema>;
