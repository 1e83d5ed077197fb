import { DEFAULT_NAMESPACE, parseDuration, UsageError } from "@hil/contracts";
import { z } from "zod";
import { RedisUrlSchema } from "@hil/lab-protocol/redis";

const NameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "lowercase letters, digits, '.', '_' or '-' (it names the agent's queue)");

const DurationMs = z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
  const ms = typeof v === "number" ? v : parseDuration(v);
  if (ms === undefined || ms <= 0) {
    ctx.addIssue({ code: "custom", message: `"${String(v)}" is not a positive duration; write e.g. 500ms, 2s or 1m` });
    return z.NEVER;
  }
  return ms;
});

/** `host:port`, `[v6]:port` or a bare port (loopback): where the agent serves `GET /metrics`. */
const ListenSchema = z.string().transform((v, ctx) => {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+))?:)?(\d{1,5})$/.exec(v.trim());
  const port = Number(m?.[3]);
  if (!m || !(port >= 0 && port <= 65535)) {
    ctx.addIssue({ code: "custom", message: `"${v}" is not host:port (e.g. 127.0.0.1:9464, [::1]:9464 or 9464)` });
    return z.NEVER;
  }
  return { host: m[1] ?? m[2] ?? "127.0.0.1", port };
});

/** Everything `hil agent` (or a test) decides about one agent process; parsed once, frozen. */
export const AgentConfigSchema = z
  .object({
    redisUrl: RedisUrlSchema,
    name: NameSchema,
    namespace: z.string().default(DEFAULT_NAMESPACE),
    /** Liveness refresh and lease renewal period; the liveness key lives 3 heartbeats. */
    heartbeatMs: DurationMs.default(2000),
    /** TTL the agent renews held leases to (the scheduler acquires with its own TTL). */
    leaseTtlMs: DurationMs.default(15_000),
    labels: z.record(z.string(), z.string()).default({}),
    schedulerUrl: z.string().url().optional(),
    /** The agent's own token (role agent): artifact downloads and, with `redisAcl` auto, its Redis password. */
    token: z.string().min(1).optional(),
    /** `auto`: log in to Redis as `hil-agent-<ns>-<name>` with the token when the URL carries no credentials; `off`: as the URL says. */
    redisAcl: z.enum(["auto", "off"], { message: "auto or off (HIL_REDIS_ACL)" }).default("auto"),
    /** The scheduler's artifact directory when it is on this machine (read directly, no HTTP). */
    artifactDir: z.string().min(1).optional(),
    cacheDir: z.string().min(1).optional(),
    /** Lines one run's log stream stores; then a truncation marker, and later lines are in the board logs only (0: no cap). */
    maxRunLogLines: z.number().int().nonnegative().default(200_000),
    /** Log lines waiting for Redis (an outage) kept in memory; more spill to a file in `cacheDir`. */
    logBufferLines: z.number().int().min(1000).default(50_000),
    /** Boards that pass every job at once: the dispatch path is real, the board work is skipped. */
    instantBoards: z.number().int().nonnegative().default(0),
    instantProfile: z.string().min(1).default("esp32-virtual"),
    /** How long an instant board holds each job before passing it (0 = at once); cancel and stop cut it short. */
    instantHoldMs: z.number().nonnegative().default(0),
    virtualEsp32: z.number().int().nonnegative().default(0),
    virtualAndroid: z.number().int().nonnegative().default(0),
    scenario: z.string().min(1).optional(),
    /** Directory for the virtual ESP32s' control sockets (`<board id>.ctl`); none when absent. */
    virtualControlDir: z.string().min(1).optional(),
    pace: z.boolean().default(false),
    discover: z.boolean().default(true),
    /** Serve Prometheus metrics here (opt-in; unauthenticated, so loopback or a scrape-only network). */
    metricsListen: ListenSchema.optional(),
  })
  .strict();
export type AgentConfig = Readonly<z.infer<typeof AgentConfigSchema>>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;

/** An agent configuration that cannot work: a UsageError (exit 64 from `hil agent`). */
export class AgentConfigError extends UsageError {
  override name = "AgentConfigError";
}

/** Reports every problem at once, naming the option. */
export function parseAgentConfig(input: AgentConfigInput): AgentConfig {
  const parsed = AgentConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(config)"}: ${i.message}`);
    throw new AgentConfigError(`agent configuration is invalid:\n${lines.join("\n")}`);
  }
  return Object.freeze(parsed.data);
}
