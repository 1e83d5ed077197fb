// `hil serial`: a booked board's serial port on the holder's machine. The holder's client opens a
// WebSocket to GET /api/v1/boards/:id/serial; the board's agent, told through its command stream,
// opens one to GET /api/v1/agent/tunnels/:tunnel (outbound from the bench: no agent port is exposed);
// this relays bytes between the two. What travels is RFC 2217 end to end: the agent runs the RFC 2217
// server on the board's link, the holder's esptool or terminal is its client.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, Server } from "node:http";
import { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Express, Request, Response } from "express";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import type { Identity } from "../auth/identity.js";
import { can } from "../auth/roles.js";
import type { SchedulerContext } from "../context.js";
import { HttpError } from "../api/http-error.js";
import { boardHolder, BoardCommands } from "./board-commands.js";

const PATHS = /^\/api\/v1\/(boards\/[^/?#]+\/serial|agent\/tunnels\/[^/?#]+)(\?|$)/;
/** How long the agent has to connect its end. */
const AGENT_WAIT_MS = 15_000;
/** The one-tunnel-per-board lock lives this long unless renewed (a scheduler that died frees it). */
const LOCK_MS = 30_000;
const CHECK_MS = 5_000;

interface Tunnel {
  id: string;
  board: string;
  agent: string;
  opener: Identity;
  user: WebSocket;
  agentSide: WebSocket | undefined;
  timers: NodeJS.Timeout[];
  openedAt: number;
}

type Ctx = Pick<SchedulerContext, "redis" | "keys" | "boards" | "artifacts" | "bookings" | "audit" | "log">;

export class SerialTunnels {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
  private readonly pending = new Map<string, Tunnel>();
  private readonly open = new Set<Tunnel>();
  private readonly commands: BoardCommands;

  constructor(private readonly ctx: Ctx) {
    this.commands = new BoardCommands(ctx);
  }

  /** One tunnel per board, across scheduler replicas: who has it open (keys' `{namespace}` tag keeps it in the lab's slot). */
  private lockKey(board: string): string {
    return `${this.ctx.keys.bullPrefix}:serial-tunnel:${board}`;
  }

  /**
   * Sends the tunnel paths' WebSocket upgrades through the express app, so the route policy (who may,
   * whose board) decides exactly as for any other request; the route handlers then take the socket.
   */
  attach(server: Server, app: Express): void {
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (!PATHS.test(req.url ?? "")) {
        // the dashboard gateway (socket.io) takes its own; nothing else here speaks WebSocket
        if (!(req.url ?? "").startsWith("/socket.io/")) socket.destroy();
        return;
      }
      (req as IncomingMessage & { upgradeHead?: Buffer }).upgradeHead = head;
      const res = new ServerResponse(req);
      res.assignSocket(socket);
      res.once("finish", () => socket.destroySoon());
      socket.on("error", () => socket.destroy());
      app(req as unknown as Request, res as unknown as Response);
    });
  }

  /** GET /api/v1/boards/:id/serial (the policy checked the holder): upgrade, lock, tell the agent. */
  async user(req: Request, res: Response, board: string, identity: Identity): Promise<void> {
    const agent = await this.commands.agentFor(board);
    const lock = this.lockKey(board);
    const taken = (by: string | null) => new HttpError(409, `board ${board}'s serial port is open already (by ${by ?? "someone"}); one tunnel per board`);
    const upgrade = this.upgradeOf(req);
    if (!upgrade) {
      // a plain GET answers whether a tunnel could be opened now: 426 yes (open it as a WebSocket), or why not
      const by = await this.ctx.redis.get(lock);
      if (by !== null) throw taken(by);
      throw new HttpError(426, "this is a WebSocket endpoint: open it with `hil serial --board B`, which gives you a local rfc2217:// port");
    }
    if ((await this.ctx.redis.set(lock, identity.name, "PX", LOCK_MS, "NX")) !== "OK") throw taken(await this.ctx.redis.get(lock));
    const t: Tunnel = { id: randomUUID(), board, agent, opener: identity, user: undefined as unknown as WebSocket, agentSide: undefined, timers: [], openedAt: Date.now() };
    res.detachSocket(upgrade.socket);
    this.wss.handleUpgrade(req, upgrade.socket, upgrade.head, (ws) => {
      t.user = ws;
      ws.pause?.();
      ws.on("close", () => this.close(t, "the holder's client closed"));
      ws.on("error", () => ws.terminate());
      this.pending.set(t.id, t);
      t.timers.push(setTimeout(() => this.pending.has(t.id) && this.close(t, `board ${board}'s agent ${agent} did not connect within ${AGENT_WAIT_MS / 1000} s`, 1011), AGENT_WAIT_MS));
      void this.ctx.audit.record({ actor: identity.name, role: identity.role, action: "board.serial", target: board, detail: { tunnel: t.id, agent } });
      void this.commands
        .serial(board, identity.name, t.id)
        .catch((err: Error) => this.close(t, `could not ask agent ${agent}: ${err.message}`, 1011));
    });
  }

  /** GET /api/v1/agent/tunnels/:id (role agent): the agent's end; it must be the board's agent. */
  async agent(req: Request, res: Response, id: string, identity: Identity): Promise<void> {
    const upgrade = this.upgradeOf(req);
    if (!upgrade) throw new HttpError(426, "this is a WebSocket endpoint for a lab agent's end of a serial tunnel");
    const t = this.pending.get(id);
    if (!t) throw new HttpError(404, `no serial tunnel ${id} waiting (it closed, or timed out)`);
    if (t.agent !== identity.name) throw new HttpError(403, `tunnel ${id} is for agent ${t.agent}, not ${identity.name}`);
    this.pending.delete(id);
    res.detachSocket(upgrade.socket);
    this.wss.handleUpgrade(req, upgrade.socket, upgrade.head, (ws) => {
      t.agentSide = ws;
      this.open.add(t);
      const relay = (from: WebSocket, to: WebSocket) =>
        from.on("message", (data: RawData, binary: boolean) => {
          if (to.readyState === WebSocket.OPEN) to.send(data, { binary });
        });
      relay(t.user, ws);
      relay(ws, t.user);
      ws.on("close", () => this.close(t, `agent ${t.agent} closed its end`));
      ws.on("error", () => ws.terminate());
      t.user.resume?.();
      // keep the lock while open; end the tunnel when the booking ends (an admin's tunnel ends with the board's next holder)
      t.timers.push(
        setInterval(() => {
          void this.ctx.redis.pexpire(this.lockKey(t.board), LOCK_MS);
          void boardHolder(this.ctx, t.board).then((holder) => {
            if (holder !== t.opener.name && !(can(t.opener.role, "admin") && holder === undefined)) {
              this.close(t, holder === undefined ? `the booking of ${t.board} ended` : `${t.board} is held by ${holder} now`, 4000);
            }
          });
        }, CHECK_MS),
      );
    });
  }

  private upgradeOf(req: Request): { socket: Socket; head: Buffer } | undefined {
    if ((req.headers.upgrade ?? "").toLowerCase() !== "websocket") return undefined;
    const head = (req as unknown as { upgradeHead?: Buffer }).upgradeHead;
    if (!head) return undefined;
    return { socket: req.socket, head };
  }

  private close(t: Tunnel, why: string, code = 1000): void {
    if (t.timers.length === 0 && !this.pending.has(t.id) && !this.open.has(t)) return;
    for (const timer of t.timers) clearTimeout(timer);
    t.timers = [];
    this.pending.delete(t.id);
    this.open.delete(t);
    const reason = why.slice(0, 120);
    if (t.user.readyState === WebSocket.OPEN) t.user.close(code, reason);
    if (t.agentSide?.readyState === WebSocket.OPEN) t.agentSide.close(1000, reason);
    // free the board's lock only if it is still this tunnel's
    void this.ctx.redis.get(this.lockKey(t.board)).then((v) => (v === t.opener.name ? this.ctx.redis.del(this.lockKey(t.board)) : 0));
    this.ctx.log.info({ board: t.board, tunnel: t.id, why, seconds: Math.round((Date.now() - t.openedAt) / 1000) }, "serial tunnel closed");
  }

  closeAll(): void {
    for (const t of [...this.pending.values(), ...this.open]) this.close(t, "the scheduler is stopping", 1001);
    this.wss.close();
  }
}
