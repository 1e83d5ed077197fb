import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { createRedisClient } from "@hil/lab-protocol/redis";
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
 * Forwards the page's API calls to the scheduler, so the page, its socket and its API share one origin
 * (the page's CSP allows only its own). Bodies and answers stream through (uploads, SSE logs).
 */
function apiProxy(apiUrl: URL): (req: IncomingMessage, res: ServerResponse) => void {
  const send = apiUrl.protocol === "https:" ? httpsRequest : httpRequest;
  return (req, res) => {
    const headers = { ...req.headers, host: apiUrl.host };
    const upstream = send(
      { protocol: apiUrl.protocol, hostname: apiUrl.hostname, port: apiUrl.port, path: `${apiUrl.pathname.replace(/\/$/, "")}${req.url ?? "/"}`, method: req.method, headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", (err) => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: `the scheduler at ${apiUrl.origin} does not answer (${err.message})` }));
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  };
}

/**
 * The gateway on its own HTTP server (`hil dashboard`), beside a scheduler elsewhere: it reads the scheduler's
 * configuration (same Redis, namespace and config tokens) so the same tokens and sessions sign in.
 */
export async function startStandaloneGateway(
  config: Pick<SchedulerConfig, "redisUrl" | "namespace" | "tokens" | "host" | "authFailLimit">,
  port: number,
  /** The scheduler the page's API calls go to (`hil dashboard --api-url`); without it they answer 502 saying so. */
  apiUrl?: string,
): Promise<StandaloneGateway> {
  const redis = createRedisClient(config.redisUrl, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
  redis.on("error", () => {});
  const keys = labKeys(config.namespace);
  const pages = webAssets();
  const proxy = apiUrl ? apiProxy(new URL(apiUrl)) : undefined;
  const server: Server = createServer((req, res) => pages(req, res, () => {
    if (req.url?.startsWith("/api/")) {
      if (proxy) return proxy(req, res);
      res.writeHead(502, { "content-type": "application/json" });
      return void res.end(JSON.stringify({ error: "this dashboard was started without --api-url (HIL_URL): it cannot reach the scheduler's API" }));
    }
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
