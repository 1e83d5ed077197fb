import { z } from "zod";

export const LogStreamSchema = z.enum(["serial", "logcat", "agent"]);
export type LogStream = z.infer<typeof LogStreamSchema>;

/** One stamped line of board output; `seq` is per board, strictly increasing, never reused. */
export const LogLineSchema = z
  .object({
    board: z.string(),
    run: z.string().nullable(),
    seq: z.number().int().nonnegative(),
    /** Milliseconds on the agent's monotonic clock (process.hrtime based). */
    mono: z.number().nonnegative(),
    /** Wall-clock epoch milliseconds. */
    wall: z.number().int().nonnegative(),
    stream: LogStreamSchema,
    text: z.string(),
    /** True when flushed without a newline (a prompt), so the next line may continue it. */
    partial: z.boolean().optional(),
  })
  .strict();
export type LogLine = z.infer<typeof LogLineSchema>;
