import { z } from "zod";
import { BoardIdSchema, BoardStateSchema, DurationSchema, LogLineSchema, RunSchema, RunStateSchema } from "@hil/contracts";
import { NameSchema, ScopeSchema } from "../auth/identity.js";
import { PersonRoleSchema, RoleSchema } from "../auth/roles.js";

/** Query and small-body schemas of the HTTP API (contracts hold the big ones). */
export const RunIdParamSchema = z.object({ id: z.string().regex(/^[a-z0-9-]{1,64}$/, "not a run id") }).strict();
export const BoardIdParamSchema = z.object({ id: BoardIdSchema }).strict();
export const BookingIdParamSchema = z.object({ id: z.string().regex(/^[a-z0-9-]{1,64}$/, "not a booking id") }).strict();
/**
 * A holder's console input: text (`newline: true` appends "\r", what a terminal's Enter sends) or raw
 * keystrokes as base64 `bytes` (Ctrl-C is "Aw==", Ctrl-] "HQ=="). At most 4 KiB either way.
 */
export const ConsoleInputBodySchema = z
  .object({
    text: z.string().max(4000).optional(),
    bytes: z.base64().max(5464).optional(),
    newline: z.boolean().default(false),
  })
  .strict()
  .refine((b) => (b.text === undefined) !== (b.bytes === undefined), { message: "send exactly one of text or bytes" });
export const BoardHistoryQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) }).strict();
export const ResetBodySchema = z.object({ mode: z.enum(["run", "download"]).default("run") }).strict();
export const FlashBodySchema = z
  .object({
    artifact: z.string().regex(/^[0-9a-f]{64}$/, "must be the lowercase hex SHA-256 of an uploaded artifact"),
    offset: z.number().int().nonnegative().max(0x4000000).multipleOf(0x1000).default(0x10000),
  })
  .strict();
export const CommandAcceptedSchema = z.object({ command: z.string(), board: z.string(), agent: z.string(), bytes: z.number().optional() });

export const ShaParamSchema = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex SHA-256") }).strict();

const flag = z.enum(["1", "0", "true", "false"]).transform((v) => v === "1" || v === "true");

/** A point in time in a query: epoch milliseconds or an ISO datetime with offset, as epoch milliseconds. */
const TimeQuerySchema = z.string().transform((s, ctx) => {
  const ms = /^\d{1,15}$/.test(s) ? Number(s) : z.iso.datetime({ offset: true }).safeParse(s).success ? Date.parse(s) : Number.NaN;
  if (Number.isSafeInteger(ms)) return ms;
  ctx.addIssue({ code: "custom", message: "must be epoch milliseconds or an ISO datetime such as 2026-05-01T09:00:00Z" });
  return z.NEVER;
});

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
    commit: z.string().min(1).max(128).optional().describe("runs whose request.ci.commit starts with this (case-insensitive)"),
    after: TimeQuerySchema.optional().describe("runs created after this time (exclusive): epoch milliseconds or ISO datetime"),
    before: TimeQuerySchema.optional().describe("runs created before this time (exclusive): epoch milliseconds or ISO datetime"),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z
      .string()
      .regex(/^\d{1,15}(:[A-Za-z0-9._-]{1,100})?$/, "must be the nextCursor of an earlier page (<createdAt>:<run id>)")
      .optional(),
  })
  .strict();

/** A run log cursor: the Redis stream id of a line (`<ms>-<n>`), or `0-<line number>` in a run's log.jsonl. */
const LogCursorSchema = z.string().regex(/^\d{1,15}-\d{1,15}$/, "must be a line's cursor from an earlier page (<ms>-<n>)");

/**
 * Without before/after/limit: the whole log (today's answer). With any of them (format=json only): one page,
 * `{ lines: [{ cursor, line }], before? }` or `{ lines, after }`.
 */
export const RunLogQuerySchema = z
  .object({
    format: z.enum(["text", "json"]).default("text"),
    before: LogCursorSchema.optional().describe("page of the lines before this cursor (exclusive), oldest first"),
    after: LogCursorSchema.optional().describe("page of the lines after this cursor (exclusive), oldest first"),
    limit: z.coerce.number().int().min(1).max(5000).optional().describe("lines per page, default 1000"),
  })
  .strict()
  .superRefine((q, ctx) => {
    if (q.before !== undefined && q.after !== undefined) ctx.addIssue({ code: "custom", path: ["after"], message: "give before or after, not both" });
    const paged = q.before !== undefined || q.after !== undefined || q.limit !== undefined;
    if (paged && q.format !== "json") ctx.addIssue({ code: "custom", path: ["format"], message: "a page of the log (before, after, limit) needs format=json" });
  });

/** A page of a run log (the answer to before/after/limit); `cursor` is the line's place for the next request. */
export const RunLogPageSchema = z.object({
  lines: z.array(z.object({ cursor: z.string(), line: LogLineSchema })),
  before: z.string().optional().describe("ask with before=this for the lines before the page; absent when there are none"),
  after: z.string().optional().describe("forward pages only: ask with after=this for the lines after the page"),
});

export const BoardListQuerySchema = z
  .object({ profile: z.string().min(1).optional(), state: BoardStateSchema.optional(), agent: z.string().min(1).optional() })
  .strict();

/** A board log sequence number (the first part of its stream entry id): digits, at most MAX_SAFE_INTEGER. */
const LogSeqSchema = z
  .string()
  .regex(/^\d{1,16}$/, "must be a log sequence number (digits only)")
  .transform(Number)
  .pipe(z.number().int().max(Number.MAX_SAFE_INTEGER, "is larger than any log sequence number"));

export const BoardLogQuerySchema = z.object({ since: LogSeqSchema.optional(), follow: flag.default(false) }).strict();
/** The SSE resume header, checked like `since`: a bad one is the client's mistake (400), never a 5xx. */
export const LastEventIdHeaderSchema = z.object({ "Last-Event-ID": LogSeqSchema.optional() });

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

/** Bodies and queries of the identity routes (tokens, users, sign-in, audit). */
export const TokenCreateBodySchema = z
  .object({
    name: NameSchema,
    role: RoleSchema,
    profiles: ScopeSchema.shape.profiles,
    labels: ScopeSchema.shape.labels,
    maxPriority: z.number().int().min(0).max(100).optional(),
    /** A token that ends on its own (e.g. "30d"); default: until revoked. */
    expiresIn: DurationSchema.optional(),
  })
  .strict();
export const TokenIdParamSchema = z.object({ id: z.string().regex(/^[0-9a-f]{16}$/, "not a token id") }).strict();
export const TokenListQuerySchema = z.object({ sessions: flag.default(false) }).strict();

const PasswordSchema = z.string().min(10, "use at least 10 characters").max(256);
export const UserCreateBodySchema = z.object({ name: NameSchema, role: PersonRoleSchema, password: PasswordSchema }).strict();
export const UserUpdateBodySchema = z
  .object({ role: PersonRoleSchema.optional(), password: PasswordSchema.optional(), disabled: z.boolean().optional() })
  .strict()
  .refine((b) => b.role !== undefined || b.password !== undefined || b.disabled !== undefined, { message: "give role, password or disabled", path: ["role"] });
export const UserNameParamSchema = z.object({ name: NameSchema }).strict();
export const SignInBodySchema = z.object({ name: z.string().min(1).max(64), password: z.string().min(1).max(256) }).strict();

export const AuditQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    actor: z.string().min(1).max(64).optional(),
    action: z.string().min(1).max(64).optional(),
    target: z.string().min(1).max(128).optional(),
    before: z.string().regex(/^\d{1,15}-\d{1,10}$/, "a stream id from a previous page's next").optional(),
  })
  .strict();
