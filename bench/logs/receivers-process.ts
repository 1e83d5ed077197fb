/**
 * The receiving end, in a process of its own: K socket.io clients of the gateway (each joins every board's room,
 * live lines only), or, for the bare-Redis reference, one reader doing XREAD BLOCK over every board's key. Each
 * receiver checks every board's counters (no gap, no duplicate) and times print → receipt.
 *
 *   (forked by bench/logs.ts) receivers-process.ts --mode socketio --url URL --token T --clients K --boards a,b,…
 *                                                  --mode redis --redis URL --bare-prefix P --boards a,b,…
 */
import { parseArgs } from "node:util";
import type { ClientToServerEvents, ServerToClientEvents } from "@hil/dashboard";
import { Redis } from "ioredis";
import { io, type Socket } from "socket.io-client";
import { LineTracker } from "./line-tracker.js";
import { wallNow, type ReceiversReply, type ReceiversRequest } from "./messages.js";

const PROGRESS_EVERY_MS = 200;

const { values: args } = parseArgs({
  options: {
    mode: { type: "string", default: "socketio" },
    url: { type: "string", default: "" },
    token: { type: "string", default: "" },
    clients: { type: "string", default: "4" },
    boards: { type: "string", default: "" },
    redis: { type: "string", default: "" },
    "bare-prefix": { type: "string", default: "bare" },
  },
});
const boardIds = (args.boards ?? "").split(",").filter(Boolean);

function send(msg: ReceiversReply): void {
  process.send?.(msg);
}

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

async function startSocketClients(): Promise<{ trackers: LineTracker[]; close(): void }> {
  const sockets: Client[] = [];
  const trackers: LineTracker[] = [];
  const count = Number(args.clients);
  for (let k = 0; k < count; k++) {
    const tracker = new LineTracker(`client-${k}`, boardIds);
    trackers.push(tracker);
    const socket: Client = io(args.url ?? "", { transports: ["websocket"], reconnection: false, auth: { token: args.token } });
    sockets.push(socket);
    socket.on("lines", (batch) => {
      const at = wallNow();
      const board = batch.room.slice("board:".length);
      for (const { line } of batch.lines) tracker.onLine(board, line.text, at, line.wall);
    });
    socket.on("disconnect", (reason) => {
      // a dropped client would show as lost lines; say why as well
      if (reason !== "io client disconnect") process.stderr.write(`${tracker.name} disconnected: ${reason}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    await Promise.all(
      boardIds.map(
        (id) =>
          new Promise<void>((resolve, reject) =>
            socket.emit("join", { room: "board", id, tail: 0 }, (res) => (res.ok ? resolve() : reject(new Error(`join board:${id}: ${res.error}`)))),
          ),
      ),
    );
  }
  return { trackers, close: () => sockets.forEach((s) => s.disconnect()) };
}

function startBareReader(): { trackers: LineTracker[]; close(): void } {
  const tracker = new LineTracker("bare-reader", boardIds);
  const redis = new Redis(args.redis ?? "", { maxRetriesPerRequest: null });
  const keys = boardIds.map((id) => `${args["bare-prefix"]}:${id}`);
  const last = keys.map(() => "0-0");
  let closed = false;
  void (async () => {
    while (!closed) {
      const out = (await redis.xread("COUNT", 1000, "BLOCK", 500, "STREAMS", ...keys, ...last).catch(() => null)) as [string, [string, string[]][]][] | null;
      const at = wallNow();
      for (const [key, entries] of out ?? []) {
        const i = keys.indexOf(key);
        const board = boardIds[i] ?? "";
        for (const [id, fields] of entries) {
          last[i] = id;
          tracker.onLine(board, fields[1] ?? "", at);
        }
      }
    }
  })();
  return {
    trackers: [tracker],
    close: () => {
      closed = true;
      redis.disconnect();
    },
  };
}

const receivers = args.mode === "redis" ? startBareReader() : await startSocketClients();
send({ type: "joined" });
const readyTimer = setInterval(() => {
  if (args.mode === "redis" || receivers.trackers.every((t) => t.ready)) {
    clearInterval(readyTimer);
    send({ type: "ready" });
  }
}, 50);

let progressTimer: NodeJS.Timeout | undefined;
process.on("message", (raw) => {
  const msg = raw as ReceiversRequest;
  if (msg.type === "measure") for (const t of receivers.trackers) t.measure(msg.window);
  else if (msg.type === "expect") {
    for (const t of receivers.trackers) t.expect(msg.printed);
    const tell = () => {
      const complete = receivers.trackers.every((t) => t.complete);
      send({ type: "progress", complete, received: receivers.trackers.reduce((a, t) => a + t.received, 0) });
      if (complete && progressTimer) clearInterval(progressTimer);
    };
    progressTimer = setInterval(tell, PROGRESS_EVERY_MS);
    tell();
  } else if (msg.type === "report") {
    send({ type: "report", receivers: receivers.trackers.map((t) => t.report()), merged: LineTracker.merge(args.mode === "redis" ? "bare" : "clients", receivers.trackers) });
  } else if (msg.type === "close") {
    if (progressTimer) clearInterval(progressTimer);
    receivers.close();
    process.disconnect();
  }
});
process.on("disconnect", () => {
  receivers.close();
  setTimeout(() => process.exit(0), 100).unref();
});
