import { createAgentLogger, loadAgentConfig, startConfiguredAgent } from "@hil/lab-agent";
import { parseDuration, UsageError } from "@hil/contracts";
import { Option, type Command } from "commander";
import { parseLabels } from "../labels.js";
import { checkRedisUrlFlag } from "../secret-options.js";

interface AgentOptions {
  redis?: string;
  redisUrlFile?: string;
  name?: string;
  namespace?: string;
  virtual?: string;
  virtualControl?: string;
  adbConnect?: string;
  scenario?: string;
  pace?: boolean;
  discover: boolean;
  schedulerUrl?: string;
  token?: string;
  tokenFile?: string;
  artifactDir?: string;
  cacheDir?: string;
  heartbeat: string;
  leaseTtl: string;
  labels?: string;
  instant?: boolean;
  instantBoards?: string;
  instantHold?: string;
  logLevel: string;
  metricsListen?: string;
  maxRunLogLines?: string;
}

export function register(program: Command): void {
  program
    .command("agent")
    .description("Run a lab agent: register this machine's boards in Redis, take jobs from its queue, ship logs and results")
    .option("--redis <url>", "Redis URL without credentials (default: $REDIS_URL, or the URL in $REDIS_URL_FILE)")
    .option("--redis-url-file <file>", "file holding the Redis URL (the way to give one with a password)")
    .option("--name <name>", "agent name; names its job queue (default: $HIL_AGENT_NAME)")
    .option("--namespace <ns>", "Redis key namespace (default: $HIL_NAMESPACE or hil)")
    .option("--virtual <spec>", "host virtual boards, e.g. esp32=2,android=1")
    .option("--scenario <name>", "firmware scenario of the virtual boards")
    .option("--pace", "pace virtual links at their baud rate")
    .option("--virtual-control <dir>", "a control socket per virtual board in DIR (<board>.ctl; ESP32: reset run|download, power-cycle, unplug, status; Android: the lines of hil virtual android's sockets)")
    .option("--adb-connect <host:port,...>", "Android devices on the network to keep connected to the agent's adb server (default: $HIL_ADB_CONNECT)")
    .option("--no-discover", "do not look for USB boards")
    .option("--scheduler-url <url>", "scheduler to fetch artifacts from")
    .option("--token-file <file>", "file holding the agent's token, role agent: artifact downloads and its Redis login (default: $HIL_TOKEN, or $HIL_TOKEN_FILE)")
    .addOption(new Option("--token <token>").hideHelp())
    .option("--artifact-dir <dir>", "the scheduler's artifact directory, when it is on this machine")
    .option("--cache-dir <dir>", "local artifact cache and log spill file (default: hil-agent-cache-NAME in the OS temp dir)")
    .option("--heartbeat <duration>", "heartbeat period", "2s")
    .option("--lease-ttl <duration>", "TTL the agent renews its leases to", "15s")
    .option("--labels <k=v,...>", "labels added to every board")
    .option("--instant", "boards pass every job at once (dispatch benchmark: Redis and BullMQ stay real)")
    .option("--instant-boards <n>", "how many instant boards to register (implies --instant)")
    .option("--instant-hold <duration>", "instant boards hold each job this long before passing it", "0ms")
    .option("--log-level <level>", "info, warn, error, debug", "info")
    .option("--max-run-log-lines <n>", "lines a run's log stores; then a truncation marker, the rest only in the board log (0: no cap)", "200000")
    .option("--metrics-listen <host:port>", "serve Prometheus metrics at http://HOST:PORT/metrics, unauthenticated (default: $HIL_METRICS_LISTEN; off when unset)")
    .action(async (opts: AgentOptions) => {
      if (opts.token !== undefined) throw new UsageError("--token is gone (a command line is visible to every local user): set HIL_TOKEN or pass --token-file FILE");
      if (opts.redis !== undefined && opts.redisUrlFile !== undefined) throw new UsageError("give --redis or --redis-url-file, not both");
      const { esp32: virtualEsp32, android: virtualAndroid } = parseVirtual(opts.virtual);
      const instantBoards =
        opts.instantBoards !== undefined ? parseCount(opts.instantBoards, "--instant-boards") : opts.instant ? Math.max(virtualEsp32, 1) : 0;
      // Flags only: the environment (REDIS_URL, HIL_AGENT_NAME, HIL_TOKEN, …) and every default are the
      // agent's config module's. An invalid configuration is an AgentConfigError, a UsageError: exit 64.
      const config = loadAgentConfig({
        heartbeatMs: opts.heartbeat,
        leaseTtlMs: opts.leaseTtl,
        labels: parseLabels(opts.labels ? [opts.labels] : []),
        instantBoards,
        instantHoldMs: parseHold(opts.instantHold ?? "0ms"),
        virtualEsp32,
        virtualAndroid,
        pace: opts.pace ?? false,
        discover: opts.discover && instantBoards === 0,
        maxRunLogLines: parseCount(opts.maxRunLogLines ?? "200000", "--max-run-log-lines"),
        ...(opts.redis !== undefined ? { redisUrl: checkRedisUrlFlag(opts.redis) } : {}),
        ...(opts.redisUrlFile !== undefined ? { redisUrlFile: opts.redisUrlFile } : {}),
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}),
        ...(opts.tokenFile !== undefined ? { tokenFile: opts.tokenFile } : {}),
        ...(opts.cacheDir ? { cacheDir: opts.cacheDir } : {}),
        ...(opts.scenario ? { scenario: opts.scenario } : {}),
        ...(opts.virtualControl ? { virtualControlDir: opts.virtualControl } : {}),
        ...(opts.adbConnect !== undefined ? { adbConnect: opts.adbConnect.split(",").map((s) => s.trim()).filter(Boolean) } : {}),
        ...(opts.schedulerUrl ? { schedulerUrl: opts.schedulerUrl } : {}),
        ...(opts.artifactDir ? { artifactDir: opts.artifactDir } : {}),
        ...(opts.metricsListen !== undefined ? { metricsListen: opts.metricsListen } : {}),
      });
      const logger = createAgentLogger(config.name, opts.logLevel);
      // Listen before starting: a SIGTERM that lands during start-up still ends in a clean stop.
      let signalled!: (signal: NodeJS.Signals) => void;
      const stopRequested = new Promise<NodeJS.Signals>((resolve) => (signalled = resolve));
      process.once("SIGINT", signalled);
      process.once("SIGTERM", signalled);
      try {
        const agent = await startConfiguredAgent(config, logger);
        const boards = agent.boards();
        process.stdout.write(`agent ${config.name} ready with ${boards.length} board(s): ${boards.map((b) => b.id).join(", ")}\n`);
        const signal = await stopRequested;
        logger.info({ signal }, "stopping: no new jobs, handing back running ones");
        await agent.stop().catch((err: Error) => logger.error({ err: err.message }, "unclean stop"));
      } finally {
        process.off("SIGINT", signalled);
        process.off("SIGTERM", signalled);
      }
      process.stdout.write(`agent ${config.name} stopped\n`);
    });
}

function parseVirtual(spec: string | undefined): { esp32: number; android: number } {
  if (spec === undefined) return { esp32: 0, android: 0 };
  let esp32 = 0;
  let android = 0;
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z0-9]+)=(\d+)$/.exec(part);
    if (!m) throw new UsageError(`--virtual takes kind=count pairs, e.g. esp32=2 (got "${part}")`);
    if (m[1] === "esp32") esp32 += Number(m[2]);
    else if (m[1] === "android") android += Number(m[2]);
    else throw new UsageError(`--virtual: unknown board kind "${m[1]}" (esp32 or android)`);
  }
  return { esp32, android };
}

function parseHold(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`--instant-hold takes a duration like 3s (got "${value}")`);
  return ms;
}

function parseCount(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${flag} takes a whole number (got "${value}")`);
  return n;
}
