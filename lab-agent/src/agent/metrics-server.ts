import { UsageError } from "@hil/contracts";
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface ListenAddress {
  host: string;
  port: number;
}

/** A bound metrics endpoint: `GET /metrics` and nothing else. */
export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves a registry in the Prometheus text format. No credentials: it binds where `--metrics-listen`
 * says (loopback unless told otherwise) and shows counts only, never tokens, log text or board data.
 */
export async function startMetricsServer(listen: ListenAddress, registry: Registry): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics here\n");
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics unavailable: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) => reject(new UsageError(`--metrics-listen ${listen.host}:${listen.port}: cannot listen there (${err.message})`, { cause: err })));
    server.listen(listen.port, listen.host, resolve);
  });
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : listen.port;
  const host = listen.host.includes(":") ? `[${listen.host}]` : listen.host;
  return {
    url: `http://${host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
