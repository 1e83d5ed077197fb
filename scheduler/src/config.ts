import { ByteSizeSchema, DEFAULT_NAMESPACE, DurationSchema } from "@hil/contracts";
import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { RedisUrlSchema } from "@hil/lab-protocol/redis";
import { RoleSchema, type Role } from "./auth/roles.js";
import type { ConfigToken } from "./auth/token-store.js";
import { HostAllowListSchema, type AllowedHost } from "./artifacts/host-allow-list.js";
import { webhookUrlProblem } from "./webhooks/webhook-url.js";

const ROLE_NAMES = new Set<string>(RoleSchema.options);

/** `name:token` (role ci) or `name:role:token`, comma-separated: bootstrap tokens beside the stored ones. */
const TokenListSchema = z.string().transform((raw, ctx) => {
  const out: ConfigToken[] = [];
  for (const part of raw.split(",").map((p) => p.trim()).filter(Boolean)) {
    const fields = part.split(":");
    const name = fields[0] ?? "";
    const hasRole = fields.length >= 3 && ROLE_NAMES.has(fields[1] ?? "");
    const role = (hasRole ? fields[1] : "ci") as Role;
    const token = fields.slice(hasRole ? 2 : 1).join(":");
    if (fields.length < 2 || !/^[a-z0-9][a-z0-9._-]*$/.test(name) || token.length < 8) {
      ctx.addIssue({ code: "custom", message: `"${part.slice(0, 12)}…" is not name:token or name:role:token (lowercase name, token of 8+ characters)` });
      continue;
    }
    out.push({ name, role, token });
  }
  return out;
});

/** `HIL_WEBHOOKS`: comma-separated http(s) URLs. */
const WebhookUrlListSchema = z.string().transform((raw, ctx) => {
  const out: string[] = [];
  for (const part of raw.split(",").map((p) => p.trim()).filter(Boolean)) {
    const problem = webhookUrlProblem(part);
    if (problem) ctx.addIssue({ code: "custom", message: `"${part.slice(0, 80)}": ${problem}` });
    else out.push(part);
  }
  return out;
});

const ConfigSchema = z.object({
  REDIS_URL: RedisUrlSchema.default("redis://127.0.0.1:6379"),
  HIL_REDIS_ACL: z.enum(["auto", "off"], { message: "auto (one Redis user per agent token, where Redis has ACL) or off" }).default("auto"),
  HIL_NAMESPACE: z.string().regex(/^[a-zA-Z0-9_-]+$/, "letters, digits, _ and - only").default(DEFAULT_NAMESPACE),
  HIL_ADMIN_TOKEN: z.string({ message: "set HIL_ADMIN_TOKEN (the lab writes one to .hil/lab.env)" }).min(8, "use at least 8 characters"),
  HIL_TOKENS: TokenListSchema.default([]),
  HIL_AGENT_AUTH: z.enum(["required", "off"], { message: "required (default) or off" }).default("required"),
  HIL_AUDIT_MAX: z.coerce.number().int().min(100).max(10_000_000).default(100_000),
  HIL_AUTH_FAIL_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(30),
  HIL_SUBMIT_LIMIT: z.coerce.number().int().min(1).max(1_000_000).default(600),
  HIL_SESSION_TTL: DurationSchema.default(12 * 3_600_000),
  HIL_ARTIFACT_DIR: z.string().min(1).default(".hil/artifacts"),
  HIL_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LAB_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  HIL_HOST: z.string().min(1).default("127.0.0.1"),
  HIL_LEASE_TTL: DurationSchema.default(15_000),
  HIL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  HIL_QUARANTINE_AFTER: z.coerce.number().int().min(1).max(100).default(3),
  HIL_HEALTH_CHECK_INTERVAL: z
    .union([z.literal("off"), DurationSchema.refine((ms) => ms === 0 || ms >= 10_000, "use at least 10s, or off")])
    .transform((v) => (v === "off" ? 0 : v))
    .default(0),
  HIL_HEALTH_IMAGE_ESP32: z.string().min(1).refine((f) => existsSync(f), "no such file (a known-good ESP32 app image)").optional(),
  HIL_RUN_RETENTION: DurationSchema.default(7 * 24 * 3_600_000),
  HIL_RESERVE_AFTER: DurationSchema.default(30_000),
  HIL_TICK: DurationSchema.default(1000),
  HIL_TIMEOUT_GRACE: DurationSchema.default(10_000),
  HIL_BOOKING_RETENTION: DurationSchema.default(7 * 86_400_000),
  HIL_QUEUE_TIMEOUT: DurationSchema.refine((ms) => ms >= 1000, "use at least 1s").default(24 * 3_600_000),
  HIL_BOOKING_MAX: DurationSchema.refine((ms) => ms >= 60_000, "use at least 1m").default(7 * 86_400_000),
  HIL_UPLOAD_MAX: ByteSizeSchema.refine((b) => b >= 1024, "use at least 1KiB").default(512 * 1024 * 1024),
  HIL_ARTIFACT_RETENTION: DurationSchema.refine((ms) => ms >= 60_000, "use at least 1m").default(7 * 86_400_000),
  HIL_ARTIFACT_SWEEP: DurationSchema.refine((ms) => ms >= 1000, "use at least 1s").default(3_600_000),
  HIL_FETCH_TIMEOUT: DurationSchema.refine((ms) => ms >= 100, "use at least 100ms").default(120_000),
  HIL_FETCH_ALLOW_HOSTS: HostAllowListSchema.default([]),
  HIL_WEBHOOKS: WebhookUrlListSchema.default([]),
  HIL_WEBHOOK_SECRET: z.string().min(16, "use at least 16 characters (the receivers check signatures with it)").optional(),
  HIL_WEBHOOK_ALLOW_HOSTS: HostAllowListSchema.default([]),
  HIL_WEBHOOK_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(8),
  HIL_WEBHOOK_BACKOFF: DurationSchema.refine((ms) => ms >= 100, "use at least 100ms").default(10_000),
  HIL_WEBHOOK_TIMEOUT: DurationSchema.refine((ms) => ms >= 100, "use at least 100ms").default(10_000),
  HIL_PUBLIC_URL: z.url({ protocol: /^https?$/, message: "must be the http(s) URL people open the lab at" }).optional(),
  HIL_DASHBOARD_GATEWAY: z.enum(["on", "off"], { message: "on (default) or off" }).default("on"),
  HIL_TEST_STOP_AFTER_CLAIM: z.enum(["0", "1"], { message: "1 (fault tests only) or 0" }).default("0"),
});

export interface SchedulerConfig {
  readonly redisUrl: string;
  readonly namespace: string;
  /** `auto`: keep one Redis ACL user per agent token (Redis ≥ 6); `off`: leave Redis users alone. */
  readonly redisAcl: "auto" | "off";
  readonly adminToken: string;
  /** Bootstrap tokens from the configuration (the admin token first); stored tokens live in Redis. */
  readonly tokens: readonly ConfigToken[];
  /**
   * `required`: apply only agent events signed with a valid token of role agent named after the agent.
   * `off`: apply every event on the stream (only for a lab that trusts whatever can write to its Redis).
   */
  readonly agentAuth: "required" | "off";
  /** Audit log length (entries kept in Redis). */
  readonly auditMax: number;
  /** Failed credential checks a client address may make per minute before it gets 429. */
  readonly authFailLimit: number;
  /** Runs one caller may submit per minute. */
  readonly submitLimit: number;
  /** How long a dashboard sign-in lasts. */
  readonly sessionTtlMs: number;
  readonly artifactDir: string;
  readonly port: number;
  readonly host: string;
  readonly leaseTtlMs: number;
  readonly maxAttempts: number;
  readonly quarantineAfter: number;
  /** Scheduled health checks of idle boards (and of quarantined boards the lab gave up on) this often; 0: off. */
  readonly healthCheckIntervalMs: number;
  /** A known-good ESP32 app image for health checks and reflash, instead of the one the scheduler is given. */
  readonly healthImageEsp32?: string;
  readonly retentionMs: number;
  /** A blocked run older than this reserves matching free boards (no starvation of multi-board runs). */
  readonly reserveAfterMs: number;
  /** Safety tick of the dispatcher and reaper. */
  readonly tickMs: number;
  /** How long past its timeout a running run may go before the scheduler ends it as timed-out (the agent normally ends it first). */
  readonly timeoutGraceMs: number;
  /** How long a run may wait in the queue (each time it is queued) unless its request says otherwise. */
  readonly queueTimeoutMs: number;
  /** How long an ended booking stays readable before it is deleted (it leaves its board's calendar at its end). */
  readonly bookingRetentionMs: number;
  /** Longest booking (and longest a booking may be extended to). */
  readonly bookingMaxMs: number;
  /** Largest upload body (artifact or multipart run) and largest artifact fetched by URL, in bytes. */
  readonly uploadMaxBytes: number;
  /** Stored artifacts unused this long and referenced by no run or booking are deleted. */
  readonly artifactRetentionMs: number;
  /** How often the artifact sweep runs. */
  readonly artifactSweepMs: number;
  /** Whole time allowed to fetch an artifact given by URL (redirects and body included). */
  readonly fetchTimeoutMs: number;
  /** Hosts an artifact URL may name even at a private address, and may redirect to. */
  readonly fetchAllowHosts: readonly AllowedHost[];
  /** Lab-wide webhook URLs (HIL_WEBHOOKS): every ended run is posted to each, signed with `webhookSecret`. */
  readonly webhooks: readonly string[];
  readonly webhookSecret: string | undefined;
  /** Hosts a token's webhook may name even at a private or loopback address (the lab's own are not checked). */
  readonly webhookAllowHosts: readonly AllowedHost[];
  /** Deliveries tried this many times (first included) before they are given up. */
  readonly webhookAttempts: number;
  /** Delay before the first retry; each later one doubles it (capped at an hour). */
  readonly webhookBackoffMs: number;
  /** Whole time one delivery may take (connect, send, answer). */
  readonly webhookTimeoutMs: number;
  /** Base of the links in webhooks (run page, JUnit); the scheduler's own address by default. */
  readonly publicUrl: string;
  /** Serve the dashboard gateway (socket.io) on the API's port, when the process that starts the scheduler provides one. */
  readonly dashboardGateway: boolean;
  /** Fault tests only: the process kills itself right after its first successful claim (before the enqueue). */
  readonly stopAfterClaim: boolean;
}

export const DEFAULT_SCHEDULER_PORT = 8080;

/** The bind address as a link's host: an unspecified address (all interfaces) is no place to open a link to. */
function linkHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

/** Parses the environment once; throws one error naming every problem. */
export function loadSchedulerConfig(env: Record<string, string | undefined>, overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const withOverrides = { ...env };
  // secrets come from the environment or a file, never from a command line (visible in ps)
  if (withOverrides.HIL_ADMIN_TOKEN === undefined && withOverrides.HIL_ADMIN_TOKEN_FILE) {
    try {
      withOverrides.HIL_ADMIN_TOKEN = readFileSync(withOverrides.HIL_ADMIN_TOKEN_FILE, "utf8").trim();
    } catch (err) {
      throw new Error(`scheduler configuration is invalid:\n  HIL_ADMIN_TOKEN_FILE: cannot read it (${(err as Error).message})`);
    }
  }
  if (withOverrides.HIL_WEBHOOK_SECRET === undefined && withOverrides.HIL_WEBHOOK_SECRET_FILE) {
    try {
      withOverrides.HIL_WEBHOOK_SECRET = readFileSync(withOverrides.HIL_WEBHOOK_SECRET_FILE, "utf8").trim();
    } catch (err) {
      throw new Error(`scheduler configuration is invalid:\n  HIL_WEBHOOK_SECRET_FILE: cannot read it (${(err as Error).message})`);
    }
  }
  // a Redis URL with a password is a secret too
  if (!withOverrides.REDIS_URL && withOverrides.REDIS_URL_FILE) {
    try {
      withOverrides.REDIS_URL = readFileSync(withOverrides.REDIS_URL_FILE, "utf8").trim();
    } catch (err) {
      throw new Error(`scheduler configuration is invalid:\n  REDIS_URL_FILE: cannot read it (${(err as Error).message})`);
    }
  }
  if (overrides.adminToken !== undefined) withOverrides.HIL_ADMIN_TOKEN = overrides.adminToken;
  const parsed = ConfigSchema.safeParse(withOverrides);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new Error(`scheduler configuration is invalid:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  if (c.HIL_WEBHOOKS.length > 0 && c.HIL_WEBHOOK_SECRET === undefined) {
    throw new Error("scheduler configuration is invalid:\n  HIL_WEBHOOK_SECRET: HIL_WEBHOOKS is set: give the secret its deliveries are signed with (or HIL_WEBHOOK_SECRET_FILE)");
  }
  const adminToken = overrides.adminToken ?? c.HIL_ADMIN_TOKEN;
  const tokens: ConfigToken[] = [{ name: "admin", role: "admin", token: adminToken }, ...c.HIL_TOKENS];
  const config: SchedulerConfig = {
    redisUrl: c.REDIS_URL,
    namespace: c.HIL_NAMESPACE,
    redisAcl: c.HIL_REDIS_ACL,
    adminToken: c.HIL_ADMIN_TOKEN,
    tokens: Object.freeze(tokens),
    agentAuth: c.HIL_AGENT_AUTH,
    auditMax: c.HIL_AUDIT_MAX,
    authFailLimit: c.HIL_AUTH_FAIL_LIMIT,
    submitLimit: c.HIL_SUBMIT_LIMIT,
    sessionTtlMs: c.HIL_SESSION_TTL,
    artifactDir: c.HIL_ARTIFACT_DIR,
    port: c.HIL_PORT ?? c.LAB_PORT ?? DEFAULT_SCHEDULER_PORT,
    host: c.HIL_HOST,
    leaseTtlMs: c.HIL_LEASE_TTL,
    maxAttempts: c.HIL_MAX_ATTEMPTS,
    quarantineAfter: c.HIL_QUARANTINE_AFTER,
    healthCheckIntervalMs: c.HIL_HEALTH_CHECK_INTERVAL,
    ...(c.HIL_HEALTH_IMAGE_ESP32 !== undefined ? { healthImageEsp32: c.HIL_HEALTH_IMAGE_ESP32 } : {}),
    retentionMs: c.HIL_RUN_RETENTION,
    reserveAfterMs: c.HIL_RESERVE_AFTER,
    tickMs: c.HIL_TICK,
    timeoutGraceMs: c.HIL_TIMEOUT_GRACE,
    queueTimeoutMs: c.HIL_QUEUE_TIMEOUT,
    bookingRetentionMs: c.HIL_BOOKING_RETENTION,
    bookingMaxMs: c.HIL_BOOKING_MAX,
    uploadMaxBytes: c.HIL_UPLOAD_MAX,
    artifactRetentionMs: c.HIL_ARTIFACT_RETENTION,
    artifactSweepMs: c.HIL_ARTIFACT_SWEEP,
    fetchTimeoutMs: c.HIL_FETCH_TIMEOUT,
    fetchAllowHosts: Object.freeze(c.HIL_FETCH_ALLOW_HOSTS),
    webhooks: Object.freeze(c.HIL_WEBHOOKS),
    webhookSecret: c.HIL_WEBHOOK_SECRET,
    webhookAllowHosts: Object.freeze(c.HIL_WEBHOOK_ALLOW_HOSTS),
    webhookAttempts: c.HIL_WEBHOOK_ATTEMPTS,
    webhookBackoffMs: c.HIL_WEBHOOK_BACKOFF,
    webhookTimeoutMs: c.HIL_WEBHOOK_TIMEOUT,
    publicUrl: (c.HIL_PUBLIC_URL ?? `http://${linkHost(c.HIL_HOST)}:${c.HIL_PORT ?? c.LAB_PORT ?? DEFAULT_SCHEDULER_PORT}`).replace(/\/+$/, ""),
    dashboardGateway: c.HIL_DASHBOARD_GATEWAY === "on",
    stopAfterClaim: c.HIL_TEST_STOP_AFTER_CLAIM === "1",
    ...overrides,
  };
  return Object.freeze(config);
}
