import { randomUUID } from "node:crypto";
import { BoardIdSchema, CONSOLE_INPUT_MAX_BYTES, type AgentCommand } from "@hil/contracts";
import { HttpError } from "../api/http-error.js";
import type { SchedulerContext } from "../context.js";
import { derivedState } from "../store/board-registry.js";

/** Entries kept in an agent's command stream; an agent reads them as they come, so a few suffice. */
const COMMANDS_MAXLEN = "1000";

export interface CommandAccepted {
  command: string;
  board: string;
  agent: string;
}

/** Who holds the board's currently active booking (the `board-holder` owner rule); undefined: nobody. */
export async function boardHolder(ctx: Pick<SchedulerContext, "bookings">, boardId: string): Promise<string | undefined> {
  if (!BoardIdSchema.safeParse(boardId).success) return undefined;
  return (await ctx.bookings.list({ board: boardId, active: true }))[0]?.holder;
}

/**
 * A board holder's commands (console input, reset, flash), checked against the board's state and
 * queued on the board's agent's command stream. Whether the caller may is decided before (the route
 * policy's `board-holder` rule, or the gateway's check of the same rule). Errors are HttpErrors: 404
 * unknown board or artifact, 409 while a run has the board or it is offline, 400 bad input.
 */
export class BoardCommands {
  constructor(private readonly ctx: Pick<SchedulerContext, "redis" | "keys" | "boards" | "artifacts">) {}

  /** `bytes` as typed (text plus Enter, or raw keystrokes); at most CONSOLE_INPUT_MAX_BYTES. */
  async console(boardId: string, actor: string, bytes: Buffer): Promise<CommandAccepted & { bytes: number }> {
    if (bytes.length === 0) throw new HttpError(400, "invalid request", { issues: [{ path: "text", message: "nothing to send" }] });
    if (bytes.length > CONSOLE_INPUT_MAX_BYTES) throw new HttpError(400, "invalid request", { issues: [{ path: "bytes", message: `at most ${CONSOLE_INPUT_MAX_BYTES} bytes at a time` }] });
    const agent = await this.agentFor(boardId);
    const cmd = await this.send(agent, { type: "console", ...this.common(boardId, actor), bytes: bytes.toString("base64") });
    return { command: cmd.id, board: boardId, agent, bytes: bytes.length };
  }

  async reset(boardId: string, actor: string, mode: "run" | "download"): Promise<CommandAccepted> {
    const agent = await this.agentFor(boardId);
    const cmd = await this.send(agent, { type: "reset", ...this.common(boardId, actor), mode });
    return { command: cmd.id, board: boardId, agent };
  }

  async flash(boardId: string, actor: string, sha256: string, offset: number): Promise<CommandAccepted & { size: number }> {
    const size = await this.ctx.artifacts.size(sha256);
    if (size === undefined) throw new HttpError(404, `no artifact ${sha256}; upload it first (POST /api/v1/artifacts)`);
    const agent = await this.agentFor(boardId);
    const cmd = await this.send(agent, { type: "flash", ...this.common(boardId, actor), artifact: { sha256, size }, offset });
    return { command: cmd.id, board: boardId, agent, size };
  }

  /** Asks the board's agent to connect its end of serial tunnel `tunnel` (`hil serial`). */
  async serial(boardId: string, actor: string, tunnel: string): Promise<CommandAccepted> {
    const agent = await this.agentFor(boardId);
    const cmd = await this.send(agent, { type: "serial", ...this.common(boardId, actor), tunnel });
    return { command: cmd.id, board: boardId, agent };
  }

  /** The agent that may act on the board now; 409 while a run has it or its agent is away. */
  async agentFor(boardId: string): Promise<string> {
    const now = Date.now();
    const view = (await this.ctx.boards.snapshot(now)).find((v) => v.board.id === boardId);
    if (!view) throw new HttpError(404, `no board ${boardId}; see GET /api/v1/boards`);
    const state = derivedState(view, now);
    if (state === "offline") throw new HttpError(409, `board ${boardId} is offline (its agent is not running or does not own it); nothing can reach it`);
    if (state === "unauthorized") throw new HttpError(409, `board ${boardId} refuses its agent's adb key; accept the key on the device first`);
    if (view.lease) throw new HttpError(409, `board ${boardId} is ${state} for run ${view.lease.runId}; try again when the run has finished`);
    return view.owner ?? view.agent;
  }

  private common(boardId: string, actor: string) {
    return { id: randomUUID(), board: boardId, actor, at: Date.now() };
  }

  private async send<C extends AgentCommand>(agent: string, cmd: C): Promise<C> {
    await this.ctx.redis.xadd(this.ctx.keys.agentCommands(agent), "MAXLEN", "~", COMMANDS_MAXLEN, "*", "json", JSON.stringify(cmd));
    return cmd;
  }
}
