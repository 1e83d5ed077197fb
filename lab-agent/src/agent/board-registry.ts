import type { AgentEvent, Board, BoardState, LabKeys } from "@hil/contracts";
import { claimBoards, EVENTS_MAXLEN, signedEventFields, startJob, type EventWriter } from "@hil/lab-protocol";
import type { RedisClient } from "@hil/lab-protocol/redis";

/**
 * The agent's side of the board hash: it writes `json` (the board as the agent sees it) and
 * `agent`; `health` and `quarantined` belong to the scheduler and are never touched here.
 * A board another live agent holds is not taken over: it waits here until that agent stops or
 * reports it offline (`retryWaiting`, every heartbeat), then it is registered and announced.
 */
export class BoardRegistry {
  private readonly boards = new Map<string, Board>();
  private readonly waiting = new Map<string, Board>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    private readonly agent: string,
    private readonly events: EventWriter,
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

  /** Boards this machine has that another live agent holds. */
  get waitingIds(): string[] {
    return [...this.waiting.keys()];
  }

  /**
   * Registers the boards that are free for this agent in one round trip and announces each with a
   * signed board-changed event. Returns the ids left waiting because another live agent holds them.
   */
  async register(boards: Board[]): Promise<string[]> {
    if (boards.length === 0) return [];
    const before = new Map(boards.map((b) => [b.id, this.boards.get(b.id)]));
    const stamped = boards.map((b): Board => ({ ...b, agent: this.agent, updatedAt: Date.now() }));
    const refused = new Set(await claimBoards(this.redis, this.keys, this.agent, stamped));
    // A job that started or ended during the claim's round trip changed the board here: that state is the
    // live one. Keep it, and write it over the snapshot the claim stored.
    const changed: Board[] = [];
    for (const board of stamped) {
      if (refused.has(board.id)) {
        this.waiting.set(board.id, board);
        continue;
      }
      this.waiting.delete(board.id);
      const now = this.boards.get(board.id);
      if (now !== undefined && now !== before.get(board.id)) changed.push(now);
      else this.boards.set(board.id, board);
    }
    if (changed.length > 0) {
      const pipe = this.redis.pipeline();
      for (const b of changed) pipe.hset(this.keys.board(b.id), "json", JSON.stringify(b));
      await pipe.exec();
    }
    for (const board of stamped) {
      if (!refused.has(board.id)) await this.events.publish({ type: "board-changed", agent: this.agent, board: this.boards.get(board.id) ?? board });
    }
    return [...refused];
  }

  /**
   * Announces every registered board again (signed board-changed). The scheduler records a board's
   * owner from these announcements; after an admin clears an owner, or the scheduler's Redis lost
   * its data, the next announcement gives the board back to this agent without a restart.
   */
  async announce(): Promise<void> {
    // through register: a hash an admin cleared names this agent again before the announcement
    await this.register([...this.boards.values()]);
  }

  /** Tries the waiting boards again; returns the ids registered now. */
  async retryWaiting(): Promise<string[]> {
    if (this.waiting.size === 0) return [];
    const candidates = [...this.waiting.values()];
    const refused = new Set(await this.register(candidates));
    return candidates.map((b) => b.id).filter((id) => !refused.has(id));
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
   * Marks the boards running and appends the signed job-started in one round trip, if the job's
   * leases still hold its token; false (nothing written) when they do not.
   */
  async startJob(ids: string[], runId: string, token: string, event: AgentEvent): Promise<boolean> {
    const next = ids.map((id) => this.boards.get(id)).filter((b): b is Board => b !== undefined).map((b) => ({ ...b, state: "running" as const, currentRun: runId, updatedAt: Date.now() }));
    if (next.length !== ids.length || ids.length === 0) return false;
    const ok = await startJob(this.redis, this.keys, {
      boardIds: ids,
      boardJson: next.map((b) => JSON.stringify(b)),
      leaseToken: token,
      event: this.events.sign(event),
    });
    if (ok) for (const b of next) this.boards.set(b.id, b);
    return ok;
  }

  /** The job on these boards is over: idle again here (not yet in Redis: `finishJob` writes that). */
  jobEnded(ids: string[]): void {
    for (const id of ids) {
      const board = this.boards.get(id);
      if (!board || board.state === "offline" || board.state === "unauthorized") continue;
      const next: Board = { ...board, state: "idle", updatedAt: Date.now() };
      delete next.currentRun;
      this.boards.set(id, next);
    }
  }

  /**
   * The boards as they are now (after `jobEnded`: idle, unless a new job took one meanwhile), then job-finished, in
   * one pipeline: the dispatcher never reads the event before the boards are free. Safe to repeat until it is
   * written: each try writes the boards' current state.
   */
  async finishJob(ids: string[], event: AgentEvent): Promise<void> {
    const signed = this.events.sign(event);
    const pipe = this.redis.pipeline();
    for (const id of ids) {
      const board = this.boards.get(id);
      if (board) pipe.hset(this.keys.board(id), "json", JSON.stringify(board));
    }
    pipe.xadd(this.keys.events(), "MAXLEN", "~", EVENTS_MAXLEN, "*", ...signedEventFields(signed));
    const results = (await pipe.exec()) ?? [];
    const failed = results.find(([err]) => err !== null);
    if (failed?.[0]) throw failed[0];
  }

  /**
   * A board still on this machine that nothing can use now (an Android device that refuses the agent's adb key):
   * that state in the registry and a board-changed, so the scheduler keeps it as this agent's but dispatches nothing.
   */
  async unusable(id: string, state: BoardState): Promise<void> {
    await this.setState([id], state);
    const board = this.boards.get(id);
    if (board) await this.events.publish({ type: "board-changed", agent: this.agent, board });
  }

  /** A board left this machine: offline in the registry, and the scheduler is told why. */
  async gone(id: string, reason: string): Promise<void> {
    if (this.waiting.delete(id)) return;
    await this.setState([id], "offline");
    await this.events.publish({ type: "board-gone", agent: this.agent, boardId: id, reason });
  }

  async markAllOffline(): Promise<void> {
    this.waiting.clear();
    await this.setState(this.ids, "offline");
  }
}
