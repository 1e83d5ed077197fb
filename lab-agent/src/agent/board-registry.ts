import { createHash } from "node:crypto";
import type { AgentEvent, Board, BoardState, LabKeys } from "@hil/contracts";
import type { Redis } from "ioredis";
import { EVENTS_MAXLEN, type EventPublisher } from "./event-publisher.js";

/*
 * KEYS[1] = events stream, KEYS[2..n+1] = lease keys, KEYS[n+2..2n+1] = board hashes.
 * ARGV[1] = lease token, ARGV[2] = job-started event JSON, ARGV[3] = events MAXLEN,
 * ARGV[4..n+3] = board JSON (state running).
 * Starts a job only if every lease still carries the token: boards marked running and the
 * event appended in one step, so a cancelled or reassigned job leaves no trace. Returns 1 or 0.
 */
const START_JOB_LUA = `
local n = (#KEYS - 1) / 2
for i = 1, n do
  local raw = redis.call("GET", KEYS[1 + i])
  if not raw then return 0 end
  local ok, lease = pcall(cjson.decode, raw)
  if not ok or type(lease) ~= "table" or lease.token ~= ARGV[1] then return 0 end
end
for i = 1, n do
  redis.call("HSET", KEYS[1 + n + i], "json", ARGV[3 + i])
end
redis.call("XADD", KEYS[1], "MAXLEN", "~", ARGV[3], "*", "json", ARGV[2])
return 1
`;
const START_JOB_SHA = createHash("sha1").update(START_JOB_LUA).digest("hex");

/**
 * The agent's side of the board hash: it writes `json` (the board as the agent sees it) and
 * `agent`; `health` and `quarantined` belong to the scheduler and are never touched here.
 */
export class BoardRegistry {
  private readonly boards = new Map<string, Board>();

  constructor(
    private readonly redis: Redis,
    private readonly keys: LabKeys,
    private readonly agent: string,
    private readonly events: EventPublisher,
  ) {}

  get ids(): string[] {
    return [...this.boards.keys()];
  }

  get(id: string): Board | undefined {
    return this.boards.get(id);
  }

  all(): Board[] {
    return [...this.boards.values()];
  }

  /** Registers boards in one round trip, then announces each with a board-changed event. */
  async register(boards: Board[]): Promise<void> {
    if (boards.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const b of boards) {
      const board: Board = { ...b, agent: this.agent, updatedAt: Date.now() };
      this.boards.set(board.id, board);
      pipe.hset(this.keys.board(board.id), "json", JSON.stringify(board), "agent", this.agent);
      pipe.sadd(this.keys.boards(), board.id);
    }
    await pipe.exec();
    for (const b of boards) {
      const board = this.boards.get(b.id);
      if (board) await this.events.publish({ type: "board-changed", agent: this.agent, board });
    }
  }

  async setState(ids: string[], state: BoardState, currentRun?: string): Promise<void> {
    const changed: Board[] = [];
    for (const id of ids) {
      const board = this.boards.get(id);
      if (!board) continue;
      const next: Board = { ...board, state, updatedAt: Date.now() };
      if (currentRun === undefined) delete next.currentRun;
      else next.currentRun = currentRun;
      this.boards.set(id, next);
      changed.push(next);
    }
    if (changed.length === 0) return;
    const pipe = this.redis.pipeline();
    for (const b of changed) pipe.hset(this.keys.board(b.id), "json", JSON.stringify(b));
    await pipe.exec();
  }

  /**
   * Marks the boards running and appends job-started in one round trip, if the job's leases
   * still hold its token; false (nothing written) when they do not.
   */
  async startJob(ids: string[], runId: string, token: string, event: AgentEvent): Promise<boolean> {
    const next = ids.map((id) => this.boards.get(id)).filter((b): b is Board => b !== undefined).map((b) => ({ ...b, state: "running" as const, currentRun: runId, updatedAt: Date.now() }));
    if (next.length !== ids.length || ids.length === 0) return false;
    const keys = [this.keys.events(), ...ids.map((id) => this.keys.lease(id)), ...ids.map((id) => this.keys.board(id))];
    const args = [token, this.events.encode(event), EVENTS_MAXLEN, ...next.map((b) => JSON.stringify(b))];
    const ok = (await this.evalStartJob(keys, args)) === 1;
    if (ok) for (const b of next) this.boards.set(b.id, b);
    return ok;
  }

  // EVALSHA spares sending the script on every job; a Redis that lost its script cache gets it again.
  private async evalStartJob(keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.redis.evalsha(START_JOB_SHA, keys.length, ...keys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      return this.redis.eval(START_JOB_LUA, keys.length, ...keys, ...args);
    }
  }

  /** Boards idle again, then job-finished, in one pipeline: the dispatcher never reads the event before the boards are free. */
  async finishJob(ids: string[], event: AgentEvent): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const id of ids) {
      const board = this.boards.get(id);
      if (!board || board.state === "offline") continue;
      const next: Board = { ...board, state: "idle", updatedAt: Date.now() };
      delete next.currentRun;
      this.boards.set(id, next);
      pipe.hset(this.keys.board(id), "json", JSON.stringify(next));
    }
    pipe.xadd(this.keys.events(), "MAXLEN", "~", EVENTS_MAXLEN, "*", "json", this.events.encode(event));
    const results = (await pipe.exec()) ?? [];
    const failed = results.find(([err]) => err !== null);
    if (failed?.[0]) throw failed[0];
  }

  /** A board left this machine: offline in the registry, and the scheduler is told why. */
  async gone(id: string, reason: string): Promise<void> {
    await this.setState([id], "offline");
    await this.events.publish({ type: "board-gone", agent: this.agent, boardId: id, reason });
  }

  async markAllOffline(): Promise<void> {
    await this.setState(this.ids, "offline");
  }
}
