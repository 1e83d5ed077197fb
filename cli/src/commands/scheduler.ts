import { Option, type Command } from "commander";
import { createGateway, webAssets } from "@hil/dashboard";
import { createSchedulerApp, loadSchedulerConfig, type SchedulerConfig } from "@hil/scheduler";
import { buildEsp32Image } from "@hil/lab-agent";
import { serviceEnv } from "../secret-options.js";
import { untilStopSignal } from "../stop-signal.js";
import { UsageError } from "@hil/contracts";

interface SchedulerOptions {
  port?: string;
  host?: string;
  redis?: string;
  redisUrlFile?: string;
  artifactDir?: string;
  token?: string;
  tokenFile?: string;
  namespace?: string;
}

export function register(program: Command): void {
  program
    .command("scheduler")
    .description("Run the scheduler service: REST API, dispatcher, bookings, live logs (until SIGINT/SIGTERM).")
    .option("--port <n>", "HTTP port (0 = any free port; default HIL_PORT, LAB_PORT or 8080)")
    .option("--host <addr>", "bind address (default HIL_HOST or 127.0.0.1)")
    .option("--redis <url>", "Redis URL without a password (default REDIS_URL, or the URL in REDIS_URL_FILE)")
    .option("--redis-url-file <file>", "file holding the Redis URL (the way to give one with a password)")
    .option("--artifact-dir <dir>", "artifact store and run files (default HIL_ARTIFACT_DIR or .hil/artifacts)")
    .option("--token-file <file>", "file holding the admin bearer token (default HIL_ADMIN_TOKEN, or HIL_ADMIN_TOKEN_FILE)")
    .addOption(new Option("--token <token>").hideHelp())
    .option("--namespace <ns>", "Redis key namespace (default HIL_NAMESPACE or hil)")
    .action(async (opts: SchedulerOptions) => {
      if (opts.token !== undefined) throw new UsageError("--token is gone (a command line is visible to every local user): set HIL_ADMIN_TOKEN or pass --token-file FILE");
      const env = serviceEnv(opts, process.env);
      if (opts.port !== undefined) {
        if (!/^\d+$/.test(opts.port)) throw new UsageError(`--port ${opts.port} is not a port number`);
        env["HIL_PORT"] = opts.port;
      }
      if (opts.artifactDir !== undefined) env["HIL_ARTIFACT_DIR"] = opts.artifactDir;
      let config: SchedulerConfig;
      try {
        config = loadSchedulerConfig(env);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      // the dashboard gateway on the API's port (one URL); HIL_DASHBOARD_GATEWAY=off leaves it out
      const service = createSchedulerApp(config, {
        attach: (server, ctx) => createGateway({ server, redis: ctx.redis, keys: ctx.keys, tokens: ctx.tokens, log: ctx.log, failedAuth: ctx.failedAuth }),
        web: webAssets(),
        // what a health check flashes (HIL_HEALTH_IMAGE_ESP32 replaces it for physical boards): an app that boots to app_main
        knownGoodImages: { esp32: buildEsp32Image({ appDesc: { projectName: "hil_health_check", version: "1.0.0" }, scenario: { kind: "idle", name: "health-check" } }) },
      });
      const { url } = await service.start();
      process.stdout.write(`scheduler listening on ${url} (namespace ${config.namespace})\n`);
      await untilStopSignal();
      await service.stop();
      process.stdout.write("scheduler stopped\n");
    });
}
