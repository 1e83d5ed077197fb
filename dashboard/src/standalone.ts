import { createServer, type Server } from "node:http";
import { Redis } from "ioredis";
import { labKeys } from "@hil/contracts";
import { TokenStore, type SchedulerConfig } from "@hil/scheduler";
import { createGateway, type Gateway } from "./gateway.js";
import { webAssets } from "./web-assets.js";

export interface StandaloneGateway {
  readonly gateway: Gateway;
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * The gateway on its own HTTP server (`hil dashboard`), beside a scheduler elsewhere: it reads the scheduler's
 * configuration (same Redis, namespace and config tokens) so the same tokens and sessions sign in.
 */
export async function startStandaloneGateway(
  config: Pick<SchedulerConfig, "redisUrl" | "namespace" | "tokens" | "host" | "authFailLimit">,
  port: number,
): Promise<StandaloneGateway> {
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
  redis.on("error", () => {});
  const keys = labKeys(config.namespace);
  const pages = webAssets();
  const server: Server = createServer((req, res) => pages(req, res, () => {
    if (req.url === "/healthz") {
      res.writeHead(redis.status === "ready" ? 200 : 503, { "content-type": "application/json" });
      res.end(JSON.stringify({ ok: redis.status === "ready", service: "dashboard-gateway" }));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "this server serves the dashboard (/) and socket.io (/socket.io/); the API is on the scheduler" }));
  }));
  const gateway = createGateway({ server, redis, keys, tokens: new TokenStore(redis, keys, config.tokens), failedAuthLimit: config.authFailLimit });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, config.host, resolve);
  });
  await gateway.ready;
  const addr = server.address();
  const bound = typeof addr === "object" && addr ? addr.port : port;
  return {
    gateway,
    url: `http://${config.host}:${bound}`,
    async stop() {
      await gateway.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      redis.disconnect();
    },
  };
}
