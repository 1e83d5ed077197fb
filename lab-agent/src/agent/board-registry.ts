import type { Board, BoardState, LabKeys } from "@hil/contracts";
import type { Redis } from "ioredis";
import type { EventPublisher } from "./event-publisher.js";

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

  /** A board left this machine: offline in the registry, and the scheduler is told why. */
  async gone(id: string, reason: string): Promise<void> {
    await this.setState([id], "offline");
    await this.events.publish({ type: "board-gone", agent: this.agent, boardId: id, reason });
  }

  async markAllOffline(): Promise<void> {
    await this.setState(this.ids, "offline");
  }
}
