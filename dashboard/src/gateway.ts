import type { Server as HttpServer } from "node:http";
import { duplicateClient, type RedisClient } from "@hil/lab-protocol/redis";
import { Server } from "socket.io";
import type { Logger } from "pino";
import { ChangeEventSchema, type LabKeys } from "@hil/contracts";
import { can, RateLimiter, type TokenStore } from "@hil/scheduler";
import { DEFAULT_TAIL, JoinRequestSchema, LeaveRequestSchema, type Ack, type ClientToServerEvents, type InterServerEvents, type ServerToClientEvents, type SocketData } from "./events.js";
import { LogRooms } from "./log-rooms.js";

export type GatewayServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

export const CHANGES_ROOM = "changes";

export interface GatewayOptions {
  /** The HTTP server to serve on (the scheduler's, so API and gateway share one port). */
  readonly server: HttpServer;
  readonly redis: RedisClient;
  readonly keys: LabKeys;
  /** The scheduler's token store: the same tokens and dashboard sessions as the REST API. */
  readonly tokens: TokenStore;
  readonly log?: Pick<Logger, "warn" | "info">;
  /** A connected socket's token is checked again before an event when the last check is older than this (default 5 s). */
  readonly recheckMs?: number;
  /** Failed credential checks a client address may make per minute before every handshake from it is refused (default 30, as the API's HIL_AUTH_FAIL_LIMIT). */
  readonly failedAuthLimit?: number;
  /** The limiter to count failures in; attached to the scheduler, its own (one budget for API and gateway). */
  readonly failedAuth?: RateLimiter;
  /** How long the shared XREAD blocks (a newly joined room is included within this). Default 500 ms. */
  readonly blockMs?: number;
}

export interface Gateway {
  readonly io: GatewayServer;
  /** One per log room with members. */
  readonly readerCount: number;
  /** Blocking Redis connections held for the log rooms (at most one). */
  readonly followerConnections: number;
  /** Resolves once the changes subscription is in place. */
  readonly ready: Promise<void>;
  /** Disconnects every client and stops the readers and the changes subscription; leaves the HTTP server to its owner. */
  close(): Promise<void>;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createGateway(opts: GatewayOptions): Gateway {
  const { redis, keys, tokens } = opts;
  const recheckMs = opts.recheckMs ?? 5000;
  // other upgrades on this server (the scheduler's serial tunnels) are not engine.io's to destroy
  const io: GatewayServer = new Server(opts.server, { serveClient: false, destroyUpgrade: false });
  const rooms = new LogRooms(io, redis, { blockMs: opts.blockMs ?? 500, onError: (err) => opts.log?.warn({ err: err.message }, "log follower: redis problem; retrying") });

  const failedAuth = opts.failedAuth ?? new RateLimiter(opts.failedAuthLimit ?? 30, 60_000);
  io.use((socket, next) => {
    const client = socket.handshake.address;
    const wait = failedAuth.retryAfter(client);
    if (wait > 0) return next(new Error(`too many failed sign-ins from this address; retry in ${wait}s`));
    const token = (socket.handshake.auth as { token?: unknown } | undefined)?.token;
    if (typeof token !== "string" || token.length === 0 || token.length > 512) {
      if (typeof token === "string" && token.length > 0) failedAuth.hit(client);
      return next(new Error("unauthorized"));
    }
    tokens
      .authenticate(token)
      .then((identity) => {
        if (!identity) {
          failedAuth.hit(client);
          return next(new Error("unauthorized"));
        }
        socket.data.identity = identity;
        socket.data.token = token;
        socket.data.checkedAt = Date.now();
        next();
      })
      .catch(() => next(new Error("unauthorized")));
  });

  io.on("connection", (socket) => {
    // a second join of a room while the first still sends its backlog would send that backlog twice
    const joining = new Set<string>();
    // every event: the credential must still be valid (checked again at most every recheckMs)
    socket.use((packet, next) => {
      const ack = packet[packet.length - 1];
      const refuse = () => {
        if (typeof ack === "function") (ack as (res: Ack) => void)({ ok: false, error: "unauthorized" });
        socket.disconnect(true);
      };
      if (Date.now() - socket.data.checkedAt < recheckMs) return next();
      tokens
        .authenticate(socket.data.token)
        .then((identity) => {
          if (!identity) return refuse();
          socket.data.identity = identity;
          socket.data.checkedAt = Date.now();
          next();
        })
        .catch(refuse);
    });

    socket.on("join", (request: unknown, ack: unknown) => {
      const reply = typeof ack === "function" ? (ack as (res: Ack) => void) : () => {};
      const parsed = JoinRequestSchema.safeParse(request);
      if (!parsed.success) return reply({ ok: false, error: `bad join: ${parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; ")}` });
      if (!can(socket.data.identity.role, "read")) return reply({ ok: false, error: "forbidden" });
      const r = parsed.data;
      if (r.room === "changes") {
        void socket.join(CHANGES_ROOM);
        return reply({ ok: true, room: CHANGES_ROOM });
      }
      const room = `${r.room}:${r.id}`;
      const key = r.room === "board" ? keys.boardLog(r.id) : keys.runLog(r.id);
      const since = r.since === undefined ? undefined : typeof r.since === "number" ? `${r.since}-0` : r.since;
      if (joining.has(room)) return reply({ ok: false, error: `already joining ${room}; wait for that answer` });
      joining.add(room);
      rooms
        .join(socket, room, key, since, r.tail ?? DEFAULT_TAIL)
        .then((cursor) => reply({ ok: true, room, cursor }))
        .catch((err: unknown) => reply({ ok: false, error: errorText(err) }))
        .finally(() => joining.delete(room));
    });

    socket.on("leave", (request: unknown, ack: unknown) => {
      const reply = typeof ack === "function" ? (ack as (res: Ack) => void) : () => {};
      const parsed = LeaveRequestSchema.safeParse(request);
      if (!parsed.success) return reply({ ok: false, error: "bad leave: give { room, id }" });
      const r = parsed.data;
      const room = r.room === "changes" ? CHANGES_ROOM : `${r.room}:${r.id}`;
      if (r.room === "changes") void socket.leave(room);
      else rooms.leave(socket, room);
      reply({ ok: true, room });
    });

    socket.on("disconnecting", () => rooms.leaveAll(socket));
  });

  // one subscription for the whole gateway, fanned out to the changes room
  const sub = duplicateClient(redis);
  sub.on("error", (err: Error) => opts.log?.warn({ err: err.message }, "changes subscription: redis problem"));
  sub.on("message", (_channel: string, message: string) => {
    let raw: unknown;
    try {
      raw = JSON.parse(message);
    } catch {
      return;
    }
    const change = ChangeEventSchema.safeParse(raw);
    if (change.success) io.to(CHANGES_ROOM).emit("change", change.data);
  });
  const ready = sub.subscribe(keys.changesChannel()).then(
    () => undefined,
    (err: unknown) => opts.log?.warn({ err: errorText(err) }, "changes subscription failed"),
  );

  return {
    io,
    ready,
    get readerCount() {
      return rooms.readerCount;
    },
    get followerConnections() {
      return rooms.followerConnections;
    },
    async close() {
      io.disconnectSockets(true);
      io.engine.close();
      sub.disconnect();
      await rooms.close();
    },
  };
}
