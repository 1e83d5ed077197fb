import { z } from "zod";
import { BoardHistoryEntrySchema, BoardSchema, BookingRequestSchema, BookingSchema, LogLineSchema, RunRequestSchema, RunSchema } from "@hil/contracts";
import {
  ArtifactStoredSchema,
  BoardHistoryQuerySchema,
  BoardListQuerySchema,
  BoardLogQuerySchema,
  BookingListQuerySchema,
  CommandAcceptedSchema,
  ConsoleInputBodySchema,
  FlashBodySchema,
  ResetBodySchema,
  ErrorBodySchema,
  ExtendBodySchema,
  QuarantineBodySchema,
  RunListQuerySchema,
  RunLogPageSchema,
  RunLogQuerySchema,
  RunViewSchema,
  AuditQuerySchema,
  SignInBodySchema,
  TokenCreateBodySchema,
  TokenListQuerySchema,
  UserCreateBodySchema,
  UserUpdateBodySchema,
} from "./api-schemas.js";
import { rolesFor } from "./authorize.js";
import { WebhookCreateBodySchema } from "./webhooks-routes.js";
import { ROUTES } from "./route-policy.js";

type Json = Record<string, unknown>;

function schema(s: z.ZodType, io: "input" | "output" = "output"): Json {
  const out = z.toJSONSchema(s, { io, unrepresentable: "any", target: "draft-2020-12" }) as Json;
  delete out["$schema"];
  return out;
}

function queryParams(s: z.ZodObject): Json[] {
  const js = schema(s, "input");
  const props = (js["properties"] ?? {}) as Record<string, Json>;
  return Object.entries(props).map(([name, p]) => ({ name, in: "query", required: false, schema: p }));
}

const pathId = (name = "id"): Json => ({ name, in: "path", required: true, schema: { type: "string" } });
const jsonBody = (s: z.ZodType): Json => ({ required: true, content: { "application/json": { schema: schema(s, "input") } } });
const ok = (s: z.ZodType | undefined, description: string, type = "application/json"): Json =>
  s ? { description, content: { [type]: { schema: schema(s) } } } : { description, content: { [type]: { schema: { type: "string" } } } };
const errors: Json = {
  "400": ok(ErrorBodySchema, "invalid request: issues name each field"),
  "401": ok(ErrorBodySchema, "missing or unknown bearer token"),
  "403": ok(ErrorBodySchema, "the caller's role, ownership or scope does not allow this"),
  "404": ok(ErrorBodySchema, "unknown id"),
  "429": ok(ErrorBodySchema, "rate limited; see Retry-After"),
};

const anyJson = z.object({}).passthrough();

const OWNER_TEXT = {
  run: "the run's submitter, or admin",
  booking: "the booking's holder, or admin",
  "board-holder": "the holder of the board's active booking, or admin",
} as const;

/** Each operation says which roles may call it, straight from the route policy table. */
function annotate(paths: Record<string, Record<string, Json>>): void {
  for (const rule of ROUTES) {
    const path = rule.path.replace(/:([a-zA-Z0-9]+)/g, "{$1}");
    const op = paths[path]?.[rule.method.toLowerCase()];
    if (!op) continue;
    op["x-hil-roles"] = rule.allow === "public" ? [] : rolesFor(rule);
    if (rule.owner) op["x-hil-owner"] = OWNER_TEXT[rule.owner];
    if (rule.audit) op["x-hil-audit"] = rule.audit;
    if (rule.allow === "public") op["security"] = [];
  }
}

/** The OpenAPI 3.1 document, built from the same zod schemas the routes validate with. */
export function buildOpenApi(version: string): Json {
  const op = (summary: string, extra: Json, responses: Json): Json => ({ summary, ...extra, responses: { ...responses, ...errors } });
  const doc = {
    openapi: "3.1.0",
    info: { title: "HIL Lab scheduler", version },
    components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    security: [{ bearer: [] }],
    paths: {
      "/healthz": { get: { summary: "Liveness and Redis reachability", security: [], responses: { "200": { description: "ok" }, "503": { description: "Redis unreachable" } } } },
      "/metrics": { get: op("Prometheus metrics", {}, { "200": ok(undefined, "metrics", "text/plain") }) },
      "/api/v1/openapi.json": { get: op("This document", {}, { "200": { description: "OpenAPI 3.1" } }) },
      "/api/v1/artifacts": {
        post: op(
          "Store an artifact (content-addressed)",
          { requestBody: { required: true, content: { "application/octet-stream": { schema: { type: "string", contentMediaType: "application/octet-stream" } }, "multipart/form-data": { schema: { type: "object" } } } } },
          { "201": ok(ArtifactStoredSchema, "stored"), "200": ok(ArtifactStoredSchema, "already stored"), "413": ok(ErrorBodySchema, "larger than HIL_UPLOAD_MAX; nothing stored") },
        ),
      },
      "/api/v1/artifacts/{sha256}": {
        get: op("Fetch an artifact", { parameters: [pathId("sha256")] }, { "200": ok(undefined, "the bytes", "application/octet-stream") }),
        head: op("Does an artifact exist", { parameters: [pathId("sha256")] }, { "200": { description: "exists" } }),
      },
      "/api/v1/runs": {
        post: op("Submit a run", { requestBody: jsonBody(RunRequestSchema) }, { "201": ok(RunSchema, "queued"), "413": ok(ErrorBodySchema, "body or uploaded artifacts larger than allowed"), "422": ok(ErrorBodySchema, "unknown suite/profile/artifact, or no board could ever run it") }),
        get: op("List runs, newest first", { parameters: queryParams(RunListQuerySchema) }, { "200": ok(z.object({ runs: z.array(RunSchema), nextCursor: z.string().optional() }), "a page of runs") }),
      },
      "/api/v1/runs/{id}": { get: op("A run, with its queue position and why it waits", { parameters: [pathId()] }, { "200": ok(RunViewSchema, "the run") }) },
      "/api/v1/runs/{id}/cancel": { post: op("Cancel a run (frees its boards)", { parameters: [pathId()] }, { "200": ok(RunSchema, "the run") }) },
      "/api/v1/runs/{id}/junit": { get: op("JUnit XML", { parameters: [pathId()] }, { "200": ok(undefined, "JUnit", "application/xml") }) },
      "/api/v1/runs/{id}/log": {
        get: op(
          "The run's log: all of it (text, or LogLine[] with format=json), or with before/after/limit (format=json) one page, oldest first",
          { parameters: [pathId(), ...queryParams(RunLogQuerySchema)] },
          {
            "200": {
              description: "text/plain: the whole log; application/json: LogLine[] (the whole log) or a page",
              content: { "text/plain": { schema: { type: "string" } }, "application/json": { schema: schema(z.union([z.array(LogLineSchema), RunLogPageSchema])) } },
            },
          },
        ),
      },
      "/api/v1/boards": { get: op("Boards with derived state", { parameters: queryParams(BoardListQuerySchema) }, { "200": ok(z.object({ boards: z.array(BoardSchema) }), "boards") }) },
      "/api/v1/boards/{id}": { get: op("One board", { parameters: [pathId()] }, { "200": ok(BoardSchema, "the board") }) },
      "/api/v1/boards/{id}/quarantine": { post: op("Quarantine a board (admin)", { parameters: [pathId()], requestBody: jsonBody(QuarantineBodySchema) }, { "200": ok(BoardSchema, "the board") }) },
      "/api/v1/boards/{id}/release-quarantine": { post: op("Return a quarantined board (admin)", { parameters: [pathId()] }, { "200": ok(BoardSchema, "the board") }) },
      "/api/v1/boards/{id}/release-owner": {
        post: op("Forget which agent owns a board, so the next agent that announces it gets it (admin)", { parameters: [pathId()] }, { "200": ok(BoardSchema, "the board") }),
      },
      "/api/v1/boards/{id}/console": {
        post: op(
          "Type into the board's console: text (newline: Enter) or raw keystrokes as base64 bytes (holder); the board's answer is in its log",
          { parameters: [pathId()], requestBody: jsonBody(ConsoleInputBodySchema) },
          { "202": ok(CommandAcceptedSchema, "sent to the board's agent"), "409": ok(ErrorBodySchema, "a run has the board, or it is offline") },
        ),
      },
      "/api/v1/boards/{id}/reset": {
        post: op(
          "Reset the board into its app (run) or the ROM loader (download) (holder); the boot output is in its log",
          { parameters: [pathId()], requestBody: jsonBody(ResetBodySchema) },
          { "202": ok(CommandAcceptedSchema, "sent to the board's agent"), "409": ok(ErrorBodySchema, "a run has the board, or it is offline") },
        ),
      },
      "/api/v1/boards/{id}/flash": {
        post: op(
          "Flash an uploaded image (holder); progress, the console closing and reopening, and the new boot are in the board's log",
          { parameters: [pathId()], requestBody: jsonBody(FlashBodySchema) },
          { "202": ok(CommandAcceptedSchema, "sent to the board's agent"), "409": ok(ErrorBodySchema, "a run has the board, or it is offline") },
        ),
      },
      "/api/v1/boards/{id}/history": {
        get: op(
          "The board's health history, newest first: infrastructure failures, recovery steps, health checks, quarantine and return (bounded)",
          { parameters: [pathId(), ...queryParams(BoardHistoryQuerySchema)] },
          { "200": ok(z.object({ board: z.string(), entries: z.array(BoardHistoryEntrySchema) }), "history"), "404": ok(ErrorBodySchema, "no such board") },
        ),
      },
      "/api/v1/boards/{id}/log": {
        get: op("Board log as Server-Sent Events (id = seq; Last-Event-ID resumes)", { parameters: [pathId(), ...queryParams(BoardLogQuerySchema)] }, { "200": ok(undefined, "SSE", "text/event-stream") }),
      },
      "/api/v1/bookings": {
        post: op("Book a board", { requestBody: jsonBody(BookingRequestSchema) }, { "201": ok(BookingSchema, "booked"), "409": ok(ErrorBodySchema, "overlaps another booking"), "422": ok(ErrorBodySchema, "no board fits") }),
        get: op("List bookings", { parameters: queryParams(BookingListQuerySchema) }, { "200": ok(z.object({ bookings: z.array(BookingSchema) }), "bookings") }),
      },
      "/api/v1/bookings/{id}": { get: op("One booking", { parameters: [pathId()] }, { "200": ok(BookingSchema, "the booking") }) },
      "/api/v1/bookings/{id}/extend": { post: op("Extend a booking", { parameters: [pathId()], requestBody: jsonBody(ExtendBodySchema) }, { "200": ok(BookingSchema, "extended"), "409": ok(ErrorBodySchema, "overlap") }) },
      "/api/v1/bookings/{id}/release": { post: op("Release a booking", { parameters: [pathId()] }, { "200": ok(BookingSchema, "released") }) },
      "/api/v1/tokens": {
        get: op("List API tokens (never their secrets)", { parameters: queryParams(TokenListQuerySchema) }, { "200": ok(anyJson, "tokens") }),
        post: op("Create an API token; the answer holds it once", { requestBody: jsonBody(TokenCreateBodySchema) }, { "201": ok(anyJson, "the token and its record"), "409": ok(ErrorBodySchema, "the name belongs to another role") }),
      },
      "/api/v1/webhooks": {
        post: op(
          "Register a webhook for the caller's own runs: each one ended is posted to the URL, signed with the secret (docs/webhooks.md)",
          { requestBody: jsonBody(WebhookCreateBodySchema) },
          { "201": ok(anyJson, "the webhook (never its secret)"), "409": ok(ErrorBodySchema, "the caller has the most webhooks allowed") },
        ),
        get: op("The caller's webhooks (admin: everyone's), never their secrets", {}, { "200": ok(anyJson, "webhooks") }),
      },
      "/api/v1/webhooks/{id}": { delete: op("Delete one of the caller's webhooks (admin: anyone's)", { parameters: [pathId()] }, { "204": { description: "deleted" } }) },
      "/api/v1/tokens/{id}/revoke": { post: op("Revoke a token", { parameters: [pathId()] }, { "200": ok(anyJson, "the revoked record") }) },
      "/api/v1/users": {
        get: op("List accounts", {}, { "200": ok(anyJson, "accounts") }),
        post: op("Create an account", { requestBody: jsonBody(UserCreateBodySchema) }, { "201": ok(anyJson, "the account"), "409": ok(ErrorBodySchema, "name taken") }),
      },
      "/api/v1/users/{name}": {
        patch: op("Change an account", { parameters: [pathId("name")], requestBody: jsonBody(UserUpdateBodySchema) }, { "200": ok(anyJson, "the account") }),
        delete: op("Delete an account and end its sessions", { parameters: [pathId("name")] }, { "204": { description: "deleted" } }),
      },
      "/api/v1/sessions": { post: op("Sign in with an account; answers a session token", { requestBody: jsonBody(SignInBodySchema) }, { "201": ok(anyJson, "the session") }) },
      "/api/v1/sessions/current": { delete: op("Sign out (ends this session token)", {}, { "204": { description: "signed out" } }) },
      "/api/v1/me": { get: op("Who the credential stands for", {}, { "200": ok(anyJson, "name, role, scope") }) },
      "/api/v1/audit": { get: op("The audit log, newest first", { parameters: queryParams(AuditQuerySchema) }, { "200": ok(anyJson, "entries") }) },
    },
  };
  annotate(doc.paths as unknown as Record<string, Record<string, Json>>);
  return doc;
}
