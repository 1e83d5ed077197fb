import type { AgentEvent } from "@hil/contracts";
import type { SchedulerContext } from "../context.js";
import { BoardOwners } from "../store/board-owners.js";
import { publishChange } from "../store/change-publisher.js";

type BoardChanged = Extract<AgentEvent, { type: "board-changed" }>;
type BoardGone = Extract<AgentEvent, { type: "board-gone" }>;

/**
 * What a verified board event does to the scheduler's record of who owns which board. Ownership is the
 * scheduler's: a board hash an agent writes counts for dispatch only while it names the owner.
 */
export class BoardEvents {
  private readonly owners: BoardOwners;

  constructor(private readonly ctx: SchedulerContext) {
    this.owners = new BoardOwners(ctx.redis, ctx.keys);
  }

  async changed(ev: BoardChanged): Promise<void> {
    const { board, agent } = ev;
    // An owner that reports its board offline lets it go (a board being moved to another bench).
    if (board.state === "offline") await this.owners.release(board.id, agent);
    else {
      const claim = await this.owners.claim(board.id, agent);
      if (!claim.ok) {
        this.ctx.log.warn(
          { board: board.id, agent, owner: claim.owner },
          "agent announced a board that belongs to another live agent; it stays with its owner until that agent stops or reports it offline",
        );
      }
    }
    publishChange(this.ctx.redis, this.ctx.keys, { kind: "board", id: board.id, state: board.state });
    this.ctx.wake(true);
  }

  async gone(ev: BoardGone): Promise<void> {
    await this.owners.release(ev.boardId, ev.agent);
    publishChange(this.ctx.redis, this.ctx.keys, { kind: "board", id: ev.boardId, state: "gone" });
    this.ctx.wake(true);
  }
}
