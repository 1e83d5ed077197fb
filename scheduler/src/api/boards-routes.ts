import { Router } from "express";
import type { SchedulerContext } from "../context.js";
import { streamBoardLog } from "../logs/board-log-stream.js";
import { BoardOwners } from "../store/board-owners.js";
import { publicBoard } from "../store/board-registry.js";
import { auditNote, identityOf } from "./authorize.js";
import { HttpError, parseInput } from "./http-error.js";
import { BoardHistoryQuerySchema, BoardIdParamSchema, BoardListQuerySchema, BoardLogQuerySchema, LastEventIdHeaderSchema, QuarantineBodySchema } from "./api-schemas.js";

export function boardsRoutes(ctx: SchedulerContext): Router {
  const r = Router();

  async function one(id: string) {
    const now = Date.now();
    const view = (await ctx.boards.snapshot(now)).find((v) => v.board.id === id);
    if (!view) throw new HttpError(404, `no board ${id}; see GET /api/v1/boards`);
    return { ...publicBoard(view, now), ...(view.quarantineReason && view.quarantined ? { quarantineReason: view.quarantineReason } : {}) };
  }

  r.get("/boards", async (req, res) => {
    const q = parseInput(BoardListQuerySchema, req.query, "query");
    const now = Date.now();
    const boards = (await ctx.boards.snapshot(now))
      .map((v) => publicBoard(v, now))
      .filter((b) => (q.profile ? b.profile === q.profile : true) && (q.state ? b.state === q.state : true) && (q.agent ? b.agent === q.agent : true));
    res.json({ boards });
  });

  r.get("/boards/:id", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    res.json(await one(id));
  });

  r.post("/boards/:id/quarantine", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    const body = parseInput(QuarantineBodySchema, req.body ?? {});
    const pending = await ctx.health?.pendingCheck(id);
    if (!(await ctx.boards.setQuarantine(id, true, body.reason))) throw new HttpError(404, `no board ${id}`);
    await ctx.health?.adminQuarantined(id, identityOf(res).name, body.reason, pending);
    // a board set aside is taken back from whoever holds it, and the booking says why
    for (const b of await ctx.bookings.list({ board: id, active: true })) {
      await ctx.bookings.release(b.id, Date.now(), { actor: identityOf(res).name, reason: "quarantined" });
    }
    ctx.wake(true);
    res.json(await one(id));
  });

  r.post("/boards/:id/release-owner", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    if ((await ctx.redis.sismember(ctx.keys.boards(), id)) !== 1) throw new HttpError(404, `no board ${id}`);
    const previous = await new BoardOwners(ctx.redis, ctx.keys).clear(id);
    auditNote(res, { target: id, detail: { previousOwner: previous ?? null } });
    ctx.wake(true);
    res.json(await one(id));
  });

  r.post("/boards/:id/release-quarantine", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    const pending = await ctx.health?.pendingCheck(id);
    if (!(await ctx.boards.setQuarantine(id, false))) throw new HttpError(404, `no board ${id}`);
    await ctx.health?.adminReleased(id, identityOf(res).name, pending);
    ctx.wake(true);
    res.json(await one(id));
  });

  // newest first: infrastructure failures, recovery steps, health checks, quarantine and return
  r.get("/boards/:id/history", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    const q = parseInput(BoardHistoryQuerySchema, req.query, "query");
    if ((await ctx.redis.sismember(ctx.keys.boards(), id)) !== 1) throw new HttpError(404, `no board ${id}; see GET /api/v1/boards`);
    const entries = ctx.health ? await ctx.health.history.list(id, q.limit) : [];
    res.json({ board: id, entries });
  });

  r.get("/boards/:id/log", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    const q = parseInput(BoardLogQuerySchema, req.query, "query");
    const resume = parseInput(LastEventIdHeaderSchema, { "Last-Event-ID": req.get("last-event-id") }, "headers")["Last-Event-ID"] ?? q.since;
    if ((await ctx.redis.sismember(ctx.keys.boards(), id)) !== 1 && (await ctx.redis.exists(ctx.keys.boardLog(id))) !== 1) {
      throw new HttpError(404, `no board ${id}`);
    }
    await streamBoardLog(ctx.redis, ctx.keys, id, resume, q.follow, req, res, ctx.boardLogs);
  });

  return r;
}
