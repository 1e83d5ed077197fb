import { z } from "zod";
import { BoardIdSchema, BoardStateSchema, DurationSchema, RunSchema, RunStateSchema } from "@hil/contracts";

/** Query and small-body schemas of the HTTP API (contracts hold the big ones). */
export const RunIdParamSchema = z.object({ id: z.string().regex(/^[a-z0-9-]{1,64}$/, "not a run id") }).strict();
export const BoardIdParamSchema = z.object({ id: BoardIdSchema }).strict();
export const BookingIdParamSchema = z.object({ id: z.string().regex(/^[a-z0-9-]{1,64}$/, "not a booking id") }).strict();
export const ShaParamSchema = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex SHA-256") }).strict();

const flag = z.enum(["1", "0", "true", "false"]).transform((v) => v === "1" || v === "true");

export const RunListQuerySchema = z
  .object({
    state: z
      .string()
      .transform((s) => s.split(",").filter(Boolean))
      .pipe(z.array(RunStateSchema))
      .optional(),
    submitter: z.string().min(1).optional(),
    suite: z.string().min(1).optional(),
    board: z.string().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z.coerce.number().int().nonnegative().optional(),
  })
  .strict();

export const RunLogQuerySchema = z.object({ format: z.enum(["text", "json"]).default("text") }).strict();

export const BoardListQuerySchema = z
  .object({ profile: z.string().min(1).optional(), state: BoardStateSchema.optional(), agent: z.string().min(1).optional() })
  .strict();

export const BoardLogQuerySchema = z
  .object({ since: z.coerce.number().int().nonnegative().optional(), follow: flag.default(false) })
  .strict();

export const QuarantineBodySchema = z.object({ reason: z.string().max(500).optional() }).strict();

export const BookingListQuerySchema = z
  .object({ board: BoardIdSchema.optional(), holder: z.string().min(1).optional(), active: flag.optional() })
  .strict();

export const ExtendBodySchema = z
  .object({
    end: z.union([z.number().int().nonnegative(), z.iso.datetime({ offset: true })]).optional(),
    duration: DurationSchema.optional(),
  })
  .strict()
  .refine((b) => (b.end === undefined) !== (b.duration === undefined), { message: "give exactly one of end or duration", path: ["end"] });

export const RunViewSchema = RunSchema.extend({
  queue: z.object({ position: z.number().int(), pending: z.number().int(), waitingFor: z.string().optional() }).optional(),
});

export const ArtifactStoredSchema = z.object({ sha256: z.string(), size: z.number().int() });
export const ErrorBodySchema = z.object({
  error: z.string(),
  code: z.string().optional(),
  field: z.string().optional(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
