import { z } from "zod";

/**
 * What the scheduler publishes on `keys.changesChannel()` when a run, booking or board changes: just enough for a
 * dashboard to know what to fetch again. `state` is the new state where the thing has one.
 */
export const ChangeEventSchema = z
  .object({
    kind: z.enum(["run", "booking", "board"]),
    id: z.string().min(1).max(128),
    state: z.string().max(32).optional(),
  })
  .strict();
export type ChangeEvent = z.infer<typeof ChangeEventSchema>;
