import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** `host:port` of an Android device on the network (adb over TCP); the port is not optional, so nothing guesses 5555. */
const AdbAddressSchema = z.string().regex(/^(?:[a-zA-Z0-9.-]+|\[[0-9a-fA-F:.]+\]):\d{1,5}$/, "host:port of an Android device with adb over TCP, e.g. 192.168.1.40:5555");

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
    redisAcl: z.enum(["auto", "off"], { message: "auto or off" }).default("auto"),
    /** The scheduler's artifact directory when it is on this machine (read directly, no HTTP). */
    artifactDir: z.string().min(1).optional(),
    /** Local artifact cache and log spill file; defaultCacheDir(name) when not given. */
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
    /** Android devices on the network the agent's adb server keeps connected (`adb connect`), matched to profiles like USB ones. */
    adbConnect: z.array(AdbAddressSchema).default([]),
    /** Directory for the virtual boards' control sockets (`<board id>.ctl`); none when absent. */
    virtualControlDir: z.string().min(1).optional(),
    pace: z.boolean().default(false),
    discover: z.boolean().default(true),
    /** Serve Prometheus metrics here (opt-in; unauthenticated, so loopback or a scrape-only network). */
    metricsListen: ListenSchema.optional(),
  })
  .strict();
export type AgentConfig = Readonly<z.infer<typeof AgentConfigSchema> & { cacheDir: string }>;
export type AgentConfigInput = z.input<typeof AgentConfigSchema>;

/** An agent configuration that cannot work: a UsageError (exit 64 from `hil agent`). */
export class AgentConfigError extends UsageError {
  override name = "AgentConfigError";
}

/** The one default for an agent's cache dir: the OS temp dir, one per agent name. */
export function defaultCacheDir(agent: string): string {
  return join(tmpdir(), `hil-agent-cache-${agent}`);
}

/** Reports every problem at once, naming the option. */
export function parseAgentConfig(input: AgentConfigInput): AgentConfig {
  return parseWithSources(input, {});
}

/**
 * What `hil agent`'s flags say, as values (no defaults filled in): anything left out comes from the
 * environment, then from the defaults above. Secrets come as files (`redisUrlFile`, `tokenFile`) or,
 * for the Redis URL, as a URL without credentials (the command line checks that).
 */
export interface AgentFlags extends Partial<Omit<AgentConfigInput, "token">> {
  redisUrlFile?: string;
  tokenFile?: string;
}

/**
 * The agent's configuration from its flags and environment; a flag wins over its variable.
 *   REDIS_URL, REDIS_URL_FILE   Redis (flags: redisUrl, redisUrlFile)
 *   HIL_AGENT_NAME              name
 *   HIL_NAMESPACE               namespace (default hil)
 *   HIL_TOKEN, HIL_TOKEN_FILE   the agent's token (flag: tokenFile)
 *   HIL_REDIS_ACL               auto (default) or off
 *   HIL_METRICS_LISTEN          metricsListen (off when unset)
 *   HIL_ADB_CONNECT             adbConnect: host:port[,host:port…] of Android devices on the network
 * A bad value is an AgentConfigError naming the option and the variable it came from.
 */
export function loadAgentConfig(flags: AgentFlags = {}, env: Record<string, string | undefined> = process.env): AgentConfig {
  const { redisUrlFile, tokenFile, ...values } = flags;
  const sources: Record<string, string> = {};
  const fromEnv = <K extends keyof AgentConfigInput>(key: K, variable: string, value: string | undefined): Partial<AgentConfigInput> => {
    if (values[key as keyof typeof values] !== undefined || value === undefined || value === "") return {};
    sources[key] = variable;
    return { [key]: value };
  };
  const redisUrl =
    values.redisUrl ?? (redisUrlFile !== undefined ? readSecretFile(redisUrlFile, "the Redis URL", AgentConfigError) : undefined) ?? envRedisUrl(env, sources);
  const token = tokenFile !== undefined ? readSecretFile(tokenFile, "the agent's token", AgentConfigError) : envToken(env);
  const name = values.name ?? (env.HIL_AGENT_NAME || undefined);
  if (!name) throw new AgentConfigError("give the agent a --name (or set HIL_AGENT_NAME; it names its job queue)");
  if (!redisUrl) throw new AgentConfigError("give --redis URL (or set REDIS_URL / REDIS_URL_FILE)");
  if (values.name === undefined) sources["name"] = "HIL_AGENT_NAME";
  return parseWithSources(
    {
      ...values,
      ...fromEnv("namespace", "HIL_NAMESPACE", env.HIL_NAMESPACE),
      ...fromEnv("redisAcl", "HIL_REDIS_ACL", env.HIL_REDIS_ACL),
      ...fromEnv("metricsListen", "HIL_METRICS_LISTEN", env.HIL_METRICS_LISTEN),
      ...envAdbConnect(values.adbConnect, env.HIL_ADB_CONNECT, sources),
      name,
      redisUrl,
      ...(token !== undefined ? { token } : {}),
    } as AgentConfigInput,
    sources,
  );
}

function envAdbConnect(flag: readonly string[] | undefined, value: string | undefined, sources: Record<string, string>): Partial<AgentConfigInput> {
  if (flag !== undefined || value === undefined || value.trim() === "") return {};
  sources["adbConnect"] = "HIL_ADB_CONNECT";
  return { adbConnect: value.split(",").map((s) => s.trim()).filter(Boolean) };
}

function envRedisUrl(env: Record<string, string | undefined>, sources: Record<string, string>): string | undefined {
  if (env.REDIS_URL) {
    sources["redisUrl"] = "REDIS_URL";
    return env.REDIS_URL;
  }
  if (env.REDIS_URL_FILE) {
    sources["redisUrl"] = "REDIS_URL_FILE";
    return readSecretFile(env.REDIS_URL_FILE, "the Redis URL", AgentConfigError);
  }
  return undefined;
}

function envToken(env: Record<string, string | undefined>): string | undefined {
  if (env.HIL_TOKEN) return env.HIL_TOKEN;
  if (env.HIL_TOKEN_FILE) return readSecretFile(env.HIL_TOKEN_FILE, "the agent's token", AgentConfigError);
  return undefined;
}

/**
 * A secret kept in a file (token, Redis URL with a password): its first line, trimmed. The agent's config
 * and `hil scheduler`'s flags both read theirs with it.
 */
export function readSecretFile(file: string, what: string, Failure: new (message: string) => UsageError = UsageError): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Failure(`cannot read ${what} from ${file}: ${(err as Error).message}`);
  }
  const value = text.split(/\r?\n/)[0]?.trim() ?? "";
  if (value === "") throw new Failure(`${file} is empty; it should hold ${what}`);
  return value;
}

function parseWithSources(input: AgentConfigInput, sources: Record<string, string>): AgentConfig {
  const parsed = AgentConfigSchema.safeParse(input);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const field = i.path.join(".") || "(config)";
      const source = sources[String(i.path[0])];
      return `  ${field}${source ? ` (${source})` : ""}: ${i.message}`;
    });
    throw new AgentConfigError(`agent configuration is invalid:\n${lines.join("\n")}`);
  }
  return Object.freeze({ ...parsed.data, cacheDir: parsed.data.cacheDir ?? defaultCacheDir(parsed.data.name) });
}
