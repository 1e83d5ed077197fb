import { DEFAULT_NAMESPACE, DurationSchema } from "@hil/contracts";
import { z } from "zod";

const TokenListSchema = z
  .string()
  .transform((raw, ctx) => {
    const out: Record<string, string> = {};
    for (const part of raw.split(",").map((p) => p.trim()).filter(Boolean)) {
      const i = part.indexOf(":");
      const name = i > 0 ? part.slice(0, i) : "";
      const token = i > 0 ? part.slice(i + 1) : "";
      if (!/^[a-z0-9][a-z0-9._-]*$/.test(name) || token.length < 8) {
        ctx.addIssue({ code: "custom", message: `"${part.slice(0, 20)}…" is not name:token (lowercase name, token of 8+ characters)` });
        continue;
      }
      out[token] = name;
    }
    return out;
  });

const ConfigSchema = z.object({
  REDIS_URL: z.string().regex(/^rediss?:\/\//, "must be a redis:// or rediss:// URL").default("redis://127.0.0.1:6379"),
  HIL_NAMESPACE: z.string().regex(/^[a-zA-Z0-9_-]+$/, "letters, digits, _ and - only").default(DEFAULT_NAMESPACE),
  HIL_ADMIN_TOKEN: z.string({ message: "set HIL_ADMIN_TOKEN (the lab writes one to .hil/lab.env)" }).min(8, "use at least 8 characters"),
  HIL_TOKENS: TokenListSchema.default({}),
  HIL_ARTIFACT_DIR: z.string().min(1).default(".hil/artifacts"),
  HIL_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  LAB_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  HIL_HOST: z.string().min(1).default("127.0.0.1"),
  HIL_LEASE_TTL: DurationSchema.default(15_000),
  HIL_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
  HIL_QUARANTINE_AFTER: z.coerce.number().int().min(1).max(100).default(3),
  HIL_RUN_RETENTION: DurationSchema.default(7 * 24 * 3_600_000),
  HIL_RESERVE_AFTER: DurationSchema.default(30_000),
  HIL_TICK: DurationSchema.default(1000),
  HIL_TIMEOUT_GRACE: DurationSchema.default(10_000),
});

export interface SchedulerConfig {
  readonly redisUrl: string;
  readonly namespace: string;
  readonly adminToken: string;
  /** token → identity name ("admin" for the admin token). */
  readonly tokens: Readonly<Record<string, string>>;
  readonly artifactDir: string;
  readonly port: number;
  readonly host: string;
  readonly leaseTtlMs: number;
  readonly maxAttempts: number;
  readonly quarantineAfter: number;
  readonly retentionMs: number;
  /** A blocked run older than this reserves matching free boards (no starvation of multi-board runs). */
  readonly reserveAfterMs: number;
  /** Safety tick of the dispatcher and reaper. */
  readonly tickMs: number;
  /** How long past its timeout a running run may go before the scheduler ends it as timed-out (the agent normally ends it first). */
  readonly timeoutGraceMs: number;
}

export const DEFAULT_SCHEDULER_PORT = 8081;

/** Parses the environment once; throws one error naming every problem. */
export function loadSchedulerConfig(env: Record<string, string | undefined>, overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const withOverrides = { ...env };
  if (overrides.adminToken !== undefined) withOverrides.HIL_ADMIN_TOKEN = overrides.adminToken;
  const parsed = ConfigSchema.safeParse(withOverrides);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(env)"}: ${i.message}`);
    throw new Error(`scheduler configuration is invalid:\n${lines.join("\n")}`);
  }
  const c = parsed.data;
  const tokens: Record<string, string> = { ...c.HIL_TOKENS, [c.HIL_ADMIN_TOKEN]: "admin" };
  const config: SchedulerConfig = {
    redisUrl: c.REDIS_URL,
    namespace: c.HIL_NAMESPACE,
    adminToken: c.HIL_ADMIN_TOKEN,
    tokens: Object.freeze(tokens),
    artifactDir: c.HIL_ARTIFACT_DIR,
    port: c.HIL_PORT ?? c.LAB_PORT ?? DEFAULT_SCHEDULER_PORT,
    host: c.HIL_HOST,
    leaseTtlMs: c.HIL_LEASE_TTL,
    maxAttempts: c.HIL_MAX_ATTEMPTS,
    quarantineAfter: c.HIL_QUARANTINE_AFTER,
    retentionMs: c.HIL_RUN_RETENTION,
    reserveAfterMs: c.HIL_RESERVE_AFTER,
    tickMs: c.HIL_TICK,
    timeoutGraceMs: c.HIL_TIMEOUT_GRACE,
    ...overrides,
  };
  if (overrides.adminToken !== undefined) {
    (config as { tokens: Record<string, string> }).tokens = Object.freeze({ ...c.HIL_TOKENS, [overrides.adminToken]: "admin" });
  }
  return Object.freeze(config);
}
