import type { Command } from "commander";
import { createSchedulerApp, loadSchedulerConfig, type SchedulerConfig } from "@hil/scheduler";
import { UsageError } from "../main.js";
import { untilStopSignal } from "../stop-signal.js";

interface SchedulerOptions {
  port?: string;
  host?: string;
  redis?: string;
  artifactDir?: string;
  token?: string;
  namespace?: string;
}

export function register(program: Command): void {
  program
    .command("scheduler")
    .description("Run the scheduler service: REST API, dispatcher, bookings, live logs (until SIGINT/SIGTERM).")
    .option("--port <n>", "HTTP port (0 = any free port; default HIL_PORT or 8081)")
    .option("--host <addr>", "bind address (default HIL_HOST or 127.0.0.1)")
    .option("--redis <url>", "Redis URL (default REDIS_URL)")
    .option("--artifact-dir <dir>", "artifact store and run files (default HIL_ARTIFACT_DIR or .hil/artifacts)")
    .option("--token <token>", "admin bearer token (default HIL_ADMIN_TOKEN)")
    .option("--namespace <ns>", "Redis key namespace (default HIL_NAMESPACE or hil)")
    .action(async (opts: SchedulerOptions) => {
      const env: Record<string, string | undefined> = { ...process.env };
      if (opts.port !== undefined) {
        if (!/^\d+$/.test(opts.port)) throw new UsageError(`--port ${opts.port} is not a port number`);
        env["HIL_PORT"] = opts.port;
      }
      if (opts.host !== undefined) env["HIL_HOST"] = opts.host;
      if (opts.redis !== undefined) env["REDIS_URL"] = opts.redis;
      if (opts.artifactDir !== undefined) env["HIL_ARTIFACT_DIR"] = opts.artifactDir;
      if (opts.token !== undefined) env["HIL_ADMIN_TOKEN"] = opts.token;
      if (opts.namespace !== undefined) env["HIL_NAMESPACE"] = opts.namespace;
      let config: SchedulerConfig;
      try {
        config = loadSchedulerConfig(env);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const service = createSchedulerApp(config);
      const { url } = await service.start();
      process.stdout.write(`scheduler listening on ${url} (namespace ${config.namespace})\n`);
      await untilStopSignal();
      await service.stop();
      process.stdout.write("scheduler stopped\n");
    });
}
