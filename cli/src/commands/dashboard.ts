import type { Command } from "commander";
import { startStandaloneGateway } from "@hil/dashboard";
import { loadSchedulerConfig, type SchedulerConfig } from "@hil/scheduler";
import { serviceEnv } from "../secret-options.js";
import { untilStopSignal } from "../stop-signal.js";
import { UsageError } from "@hil/contracts";

const DEFAULT_DASHBOARD_PORT = 8082;

interface DashboardOptions {
  port?: string;
  host?: string;
  redis?: string;
  redisUrlFile?: string;
  tokenFile?: string;
  namespace?: string;
  apiUrl?: string;
}

export function register(program: Command): void {
  program
    .command("dashboard")
    .description("Run the dashboard (pages, and the socket.io gateway for live logs and changes) on its own port beside a scheduler, until SIGINT/SIGTERM. `hil scheduler` serves it on its own port already.")
    .option("--port <n>", `port (0 = any free port; default ${DEFAULT_DASHBOARD_PORT})`)
    .option("--host <addr>", "bind address (default HIL_HOST or 127.0.0.1)")
    .option("--redis <url>", "Redis URL without a password (default REDIS_URL, or the URL in REDIS_URL_FILE)")
    .option("--redis-url-file <file>", "file holding the Redis URL (the way to give one with a password)")
    .option("--token-file <file>", "file holding the scheduler's admin token (default HIL_ADMIN_TOKEN, or HIL_ADMIN_TOKEN_FILE): the same config tokens sign in")
    .option("--namespace <ns>", "Redis key namespace (default HIL_NAMESPACE or hil)")
    .option("--api-url <url>", "the scheduler's URL (default HIL_URL): the page's API calls are forwarded there, so the page has one origin")
    .action(async (opts: DashboardOptions) => {
      const env = serviceEnv(opts, process.env);
      let port = DEFAULT_DASHBOARD_PORT;
      if (opts.port !== undefined) {
        if (!/^\d+$/.test(opts.port) || Number(opts.port) > 65535) throw new UsageError(`--port ${opts.port} is not a port number`);
        port = Number(opts.port);
      }
      let config: SchedulerConfig;
      try {
        config = loadSchedulerConfig(env);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const apiUrl = opts.apiUrl ?? (process.env["HIL_URL"] || undefined);
      if (apiUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(apiUrl)) throw new UsageError(`--api-url ${apiUrl} is not an http(s) URL`);
      const gateway = await startStandaloneGateway(config, port, apiUrl);
      process.stdout.write(`dashboard listening on ${gateway.url} (namespace ${config.namespace}${apiUrl ? `, API at ${apiUrl}` : ", no --api-url: pages cannot reach the API"})\n`);
      await untilStopSignal();
      await gateway.stop();
      process.stdout.write("dashboard gateway stopped\n");
    });
}
