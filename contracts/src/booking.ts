import { z } from "zod";
import { BoardIdSchema } from "./board.js";
import { DurationSchema } from "./duration.js";
import { BoardRequirementSchema } from "./run.js";

export const BookingStateSchema = z.enum(["scheduled", "active", "ended", "released"]);
/** released: by its holder · released-by-admin: by someone else · quarantined: the board was set aside. A booking that ran out is "ended" and has none. */
export const BookingEndReasonSchema = z.enum(["released", "released-by-admin", "quarantined"]);
export type BookingEndReason = z.infer<typeof BookingEndReasonSchema>;

export const BookingRequestSchema = z
  .object({
    board: BoardIdSchema.optional(),
    requirements: BoardRequirementSchema.optional(),
    /** Epoch ms or ISO time; default now. */
    start: z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]).optional(),
    end: z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]).optional(),
    duration: DurationSchema.optional(),
    note: z.string().max(500).optional(),
  })
  .strict()
  .refine((b) => b.board !== undefined || b.requirements !== undefined, {
    message: "give a board or requirements",
    path: ["board"],
  })
  .refine((b) => b.end !== undefined || b.duration !== undefined, { message: "give an end or a duration", path: ["end"] });
export type BookingRequest = z.infer<typeof BookingRequestSchema>;

export const BookingSchema = z
  .object({
    id: z.string(),
    board: z.string(),
    holder: z.string(),
    start: z.number().int(),
    end: z.number().int(),
    state: BookingStateSchema,
    note: z.string().optional(),
    createdAt: z.number().int(),
    /** The holder's role when booked (the dashboard shows CI's windows apart from people's). */
    holderRole: z.string().optional(),
    /** Why a released booking ended before its time, and who ended it. */
    endReason: BookingEndReasonSchema.optional(),
    releasedBy: z.string().optional(),
  })
  .strict();
export type Booking = z.infer<typeof BookingSchema>;
