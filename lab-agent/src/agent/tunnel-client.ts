import type { Duplex } from "node:stream";
import { createWebSocketStream, WebSocket } from "ws";

/**
 * The agent's end of a serial tunnel: a WebSocket to the scheduler (the connection goes out from the
 * bench, so no agent port is opened to the network), authenticated with the agent's token, as a byte
 * stream. Resolves once the scheduler accepted it.
 */
export function openTunnel(schedulerUrl: string, token: string, id: string, timeoutMs = 15_000): Promise<Duplex> {
  const url = new URL(`/api/v1/agent/tunnels/${encodeURIComponent(id)}`, schedulerUrl);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, handshakeTimeout: timeoutMs });
    ws.once("open", () => resolve(createWebSocketStream(ws)));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => reject(new Error(`the scheduler refused serial tunnel ${id}: ${res.statusCode} ${body}`)));
    });
    ws.once("error", reject);
  });
}
