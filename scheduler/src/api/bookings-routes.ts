import { Router } from "express";
import { BookingRequestSchema, type Booking } from "@hil/contracts";
import type { SchedulerContext } from "../context.js";
import { BookingConflictError, BookingStore } from "../store/booking-store.js";
import { matches } from "../store/board-registry.js";
import { auditNote, identityOf } from "./authorize.js";
import { scopeAllowsBoard, describeScope } from "../auth/identity.js";
import { HttpError, parseInput } from "./http-error.js";
import { bookingWindow, extendedEnd } from "./booking-window.js";
import { BookingIdParamSchema, BookingListQuerySchema, ExtendBodySchema } from "./api-schemas.js";

/** Wakes the dispatcher when a booking ends, so waiting runs take the board at once. */
export function scheduleBookingEnd(ctx: SchedulerContext, end: number, timers: Set<NodeJS.Timeout>): void {
  const delay = end - Date.now();
  if (delay < 0 || delay > 2_147_000_000) return;
  const t = setTimeout(() => {
    timers.delete(t);
    ctx.wake(true);
  }, delay + 5);
  t.unref();
  timers.add(t);
}

export function bookingsRoutes(ctx: SchedulerContext, timers: Set<NodeJS.Timeout>): Router {
  const r = Router();

  async function existing(id: string): Promise<Booking> {
    const b = await ctx.bookings.get(id);
    if (!b) throw new HttpError(404, `no booking ${id}`);
    // whose it is was checked by the route policy (holder or admin) before the handler ran
    return b;
  }

  r.post("/bookings", async (req, res) => {
    const body = parseInput(BookingRequestSchema, req.body ?? {});
    const now = Date.now();
    const { start, end } = bookingWindow(body, now, ctx.config.bookingMaxMs);
    const views = await ctx.boards.snapshot(now);
    let candidates = views;
    if (body.board !== undefined) {
      candidates = views.filter((v) => v.board.id === body.board);
      if (candidates.length === 0) throw new HttpError(422, `board ${body.board} is not registered`, { field: "board" });
    }
    if (body.requirements) {
      const req2 = body.requirements;
      candidates = candidates.filter((v) => matches(v, { profile: req2.profile ?? v.board.profile, labels: req2.labels ?? {}, ...(req2.board ? { board: req2.board } : {}) }));
      if (candidates.length === 0) throw new HttpError(422, "no registered board meets these requirements", { field: "requirements" });
    }
    const me = identityOf(res);
    const inScope = candidates.filter((v) => scopeAllowsBoard(me.scope, v.board));
    if (inScope.length === 0) {
      throw new HttpError(403, `${me.name} may book only boards within ${describeScope(me.scope)}`, { field: body.board !== undefined ? "board" : "requirements" });
    }
    candidates = inScope.filter((v) => !v.quarantined).sort((a, b) => Number(b.agentAlive) - Number(a.agentAlive));
    let lastConflict: BookingConflictError | undefined;
    for (const v of candidates) {
      const booking: Booking = {
        id: BookingStore.newId(),
        board: v.board.id,
        holder: identityOf(res).name,
        holderRole: identityOf(res).role,
        start,
        end,
        state: "scheduled",
        createdAt: now,
        ...(body.note ? { note: body.note } : {}),
      };
      try {
        const saved = await ctx.bookings.put(booking, now);
        scheduleBookingEnd(ctx, end, timers);
        ctx.wake(true);
        auditNote(res, { target: saved.id, detail: { board: saved.board, start: saved.start, end: saved.end } });
        return void res.status(201).location(`/api/v1/bookings/${saved.id}`).json(saved);
      } catch (err) {
        if (!(err instanceof BookingConflictError)) throw err;
        lastConflict = err;
      }
    }
    if (lastConflict) throw new HttpError(409, candidates.length > 1 ? "every matching board is booked in that window" : lastConflict.message);
    throw new HttpError(422, "every matching board is quarantined", { field: body.board !== undefined ? "board" : "requirements" });
  });

  r.get("/bookings", async (req, res) => {
    const q = parseInput(BookingListQuerySchema, req.query, "query");
    const bookings = await ctx.bookings.list({
      ...(q.board ? { board: q.board } : {}),
      ...(q.holder ? { holder: q.holder } : {}),
      ...(q.active !== undefined ? { active: q.active } : {}),
    });
    res.json({ bookings });
  });

  r.get("/bookings/:id", async (req, res) => {
    const { id } = parseInput(BookingIdParamSchema, req.params, "params");
    const b = await ctx.bookings.get(id);
    if (!b) throw new HttpError(404, `no booking ${id}`);
    res.json(b);
  });

  r.post("/bookings/:id/extend", async (req, res) => {
    const { id } = parseInput(BookingIdParamSchema, req.params, "params");
    const body = parseInput(ExtendBodySchema, req.body ?? {});
    const b = await existing(id);
    if (b.state === "released" || b.state === "ended") throw new HttpError(409, `booking ${id} is ${b.state}; book again`);
    const end = extendedEnd(b, body, Date.now(), ctx.config.bookingMaxMs);
    try {
      const saved = await ctx.bookings.put({ ...b, end, state: "scheduled" });
      scheduleBookingEnd(ctx, end, timers);
      ctx.wake(true);
      res.json(saved);
    } catch (err) {
      if (err instanceof BookingConflictError) throw new HttpError(409, err.message);
      throw err;
    }
  });

  r.post("/bookings/:id/release", async (req, res) => {
    const { id } = parseInput(BookingIdParamSchema, req.params, "params");
    const before = await existing(id);
    const actor = identityOf(res).name;
    const b = await ctx.bookings.release(id, Date.now(), { actor, reason: actor === before.holder ? "released" : "released-by-admin" });
    ctx.wake(true);
    res.json(b);
  });

  return r;
}
