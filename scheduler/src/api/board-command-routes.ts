import { Router } from "express";
import { BoardCommands } from "../consoles/board-commands.js";
import type { SerialTunnels } from "../consoles/serial-tunnels.js";
import { HttpError } from "./http-error.js";
import type { SchedulerContext } from "../context.js";
import { auditNote, identityOf } from "./authorize.js";
import { parseInput } from "./http-error.js";
import { BoardIdParamSchema, ConsoleInputBodySchema, FlashBodySchema, ResetBodySchema } from "./api-schemas.js";

/**
 * The holder's commands for a board over HTTP: console input, reset, flash. Who may call them is the
 * route policy's `board-holder` rule; `BoardCommands` checks the board and queues the command for its
 * agent, which reports the outcome in the board's log. Each answers 202.
 */
export function boardCommandRoutes(ctx: SchedulerContext, tunnels?: SerialTunnels): Router {
  const r = Router();
  const commands = new BoardCommands(ctx);

  // WebSocket upgrades routed here by SerialTunnels.attach, after the route policy
  r.get("/boards/:id/serial", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    if (!tunnels) throw new HttpError(501, "this scheduler serves no serial tunnels");
    await tunnels.user(req, res, id, identityOf(res));
  });
  r.get("/agent/tunnels/:id", async (req, res) => {
    const id = String(req.params["id"] ?? "");
    if (!/^[0-9a-f-]{36}$/.test(id)) throw new HttpError(400, "invalid request", { issues: [{ path: "params.id", message: "a tunnel id" }] });
    if (!tunnels) throw new HttpError(501, "this scheduler serves no serial tunnels");
    await tunnels.agent(req, res, id, identityOf(res));
  });

  r.post("/boards/:id/console", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    const body = parseInput(ConsoleInputBodySchema, req.body ?? {});
    const bytes = body.bytes !== undefined ? Buffer.from(body.bytes, "base64") : Buffer.from(`${body.text ?? ""}${body.newline ? "\r" : ""}`, "utf8");
    const accepted = await commands.console(id, identityOf(res).name, bytes);
    // what was typed may be a password: the audit log keeps only how much
    auditNote(res, { target: id, detail: { bytes: accepted.bytes, command: accepted.command } });
    res.status(202).json(accepted);
  });

  r.post("/boards/:id/reset", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    const { mode } = parseInput(ResetBodySchema, req.body ?? {});
    const accepted = await commands.reset(id, identityOf(res).name, mode);
    auditNote(res, { target: id, detail: { mode, command: accepted.command } });
    res.status(202).json(accepted);
  });

  r.post("/boards/:id/flash", async (req, res) => {
    const { id } = parseInput(BoardIdParamSchema, req.params, "params");
    const body = parseInput(FlashBodySchema, req.body ?? {});
    const accepted = await commands.flash(id, identityOf(res).name, body.artifact, body.offset);
    auditNote(res, { target: id, detail: { artifact: body.artifact, size: accepted.size, offset: body.offset, command: accepted.command } });
    res.status(202).json({ command: accepted.command, board: id, agent: accepted.agent });
  });

  return r;
}
