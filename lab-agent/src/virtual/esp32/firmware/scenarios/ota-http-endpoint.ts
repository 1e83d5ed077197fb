import { createServer } from "node:http";
import type { ScenarioEnv } from "../firmware-context.js";

const MAX_BODY = 2048;

/**
 * A device's own HTTP update endpoint (esp_http_server with an `/ota` handler): `POST <path>` whose body
 * is the image URL starts the update and answers 202; 409 while one runs, 400 without a URL, 401 without the
 * Authorization the spec asks for (when it asks). It listens
 * on 127.0.0.1 only while the app runs, so a reset closes it as a real board's would.
 */
export function serveUpdateEndpoint(
  spec: { port: number; path: string; tag: string; authorization?: string | undefined },
  env: ScenarioEnv,
  update: (url: string) => "started" | "busy",
): void {
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => {
      body += c;
      if (body.length > MAX_BODY) req.destroy();
    });
    req.on("end", () => {
      const answer = (status: number, text: string) => {
        res.writeHead(status, { "content-type": "text/plain" });
        res.end(`${text}\n`);
      };
      if (req.method !== "POST" || req.url !== spec.path) return answer(404, `POST ${spec.path} with the image URL`);
      if (spec.authorization !== undefined && req.headers.authorization !== spec.authorization) {
        env.log("W", spec.tag, `HTTP ${req.method} ${spec.path}: ${req.headers.authorization === undefined ? "no credentials" : "wrong credentials"}`);
        res.setHeader("www-authenticate", 'Bearer realm="ota"');
        return answer(401, "unauthorized");
      }
      const url = body.trim();
      if (!/^https?:\/\/\S+$/.test(url)) return answer(400, "the body must be the image URL");
      env.log("I", spec.tag, `HTTP ${req.method} ${spec.path}: update from ${url}`);
      if (update(url) === "busy") return answer(409, "an update is already running");
      answer(202, "update started");
    });
  });
  server.on("error", (err) => env.log("E", spec.tag, `httpd: cannot listen on port ${spec.port}: ${err.message}`));
  server.listen(spec.port, "127.0.0.1");
  env.timers.onClear(() => {
    server.closeAllConnections();
    server.close();
  });
}
