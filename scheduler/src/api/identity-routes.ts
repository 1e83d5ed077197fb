import { Router } from "express";
import type { SchedulerContext } from "../context.js";
import { describeScope, type Identity } from "../auth/identity.js";
import { permissionsOf, type Role } from "../auth/roles.js";
import { auditNote, identityOf } from "./authorize.js";
import { HttpError, parseInput } from "./http-error.js";
import {
  AuditQuerySchema,
  SignInBodySchema,
  TokenCreateBodySchema,
  TokenIdParamSchema,
  TokenListQuerySchema,
  UserCreateBodySchema,
  UserNameParamSchema,
  UserUpdateBodySchema,
} from "./api-schemas.js";

/**
 * Tokens, people's accounts, sign-in sessions and the audit log. A name stands for one principal:
 * it keeps one role across the config tokens, stored tokens and accounts that carry it, so a run
 * submitted by "gitlab-main" belongs to every token named so (rotate by creating a new one, then
 * revoking the old).
 */
export function identityRoutes(ctx: SchedulerContext): Router {
  const r = Router();

  async function assertNameFree(name: string, role: Role, kind: "token" | "user"): Promise<void> {
    const clash = (other: Role, where: string) => {
      if (other !== role) throw new HttpError(409, `the name ${name} already belongs to a ${other} ${where}; pick another name or the same role`, { field: "name" });
    };
    for (const c of ctx.tokens.configTokens()) if (c.name === name) clash(c.role, "token from the configuration");
    for (const t of await ctx.tokens.list()) if (t.name === name && t.revokedAt === undefined) clash(t.role, "token");
    const user = await ctx.users.get(name);
    if (user && kind === "user") throw new HttpError(409, `a user named ${name} exists already`, { field: "name" });
    if (user) clash(user.role, "account");
  }

  r.get("/tokens", async (req, res) => {
    const q = parseInput(TokenListQuerySchema, req.query, "query");
    res.json({ tokens: await ctx.tokens.list({ includeSessions: q.sessions }) });
  });

  r.post("/tokens", async (req, res) => {
    const body = parseInput(TokenCreateBodySchema, req.body ?? {});
    if (body.role === "admin" && (body.profiles?.length || Object.keys(body.labels ?? {}).length)) {
      throw new HttpError(400, "invalid request", { issues: [{ path: "role", message: "an admin token cannot be scoped; give it a narrower role" }] });
    }
    await assertNameFree(body.name, body.role, "token");
    const now = Date.now();
    const { token, record } = await ctx.tokens.create(
      {
        name: body.name,
        role: body.role,
        scope: { ...(body.profiles ? { profiles: body.profiles } : {}), ...(body.labels ? { labels: body.labels } : {}) },
        ...(body.maxPriority !== undefined ? { maxPriority: body.maxPriority } : {}),
        ...(body.expiresIn !== undefined ? { expiresAt: now + body.expiresIn } : {}),
        createdBy: identityOf(res).name,
      },
      now,
    );
    auditNote(res, { target: record.id, detail: { name: record.name, role: record.role, scope: describeScope(record.scope) } });
    const { hash: _hash, eventKey: _eventKey, ...view } = record;
    res.status(201).json({ ...view, token, note: "the token is shown only now; store it in your CI's secret store" });
  });

  r.post("/tokens/:id/revoke", async (req, res) => {
    const { id } = parseInput(TokenIdParamSchema, req.params, "params");
    const record = await ctx.tokens.revoke(id, identityOf(res).name);
    if (!record) throw new HttpError(404, `no token ${id}; see GET /api/v1/tokens`);
    auditNote(res, { detail: { name: record.name, role: record.role } });
    const { hash: _hash, eventKey: _eventKey, ...view } = record;
    res.json(view);
  });

  r.get("/users", async (_req, res) => void res.json({ users: await ctx.users.list() }));

  r.post("/users", async (req, res) => {
    const body = parseInput(UserCreateBodySchema, req.body ?? {});
    await assertNameFree(body.name, body.role, "user");
    const user = await ctx.users.create({ ...body, createdBy: identityOf(res).name });
    if (!user) throw new HttpError(409, `a user named ${body.name} exists already`, { field: "name" });
    auditNote(res, { target: user.name, detail: { role: user.role } });
    res.status(201).json(user);
  });

  r.patch("/users/:name", async (req, res) => {
    const { name } = parseInput(UserNameParamSchema, req.params, "params");
    const body = parseInput(UserUpdateBodySchema, req.body ?? {});
    if (body.role) await assertNameFree(name, body.role, "token");
    const user = await ctx.users.update(name, body);
    if (!user) throw new HttpError(404, `no user ${name}`);
    auditNote(res, { detail: { ...(body.role ? { role: body.role } : {}), ...(body.password ? { password: "changed" } : {}), ...(body.disabled !== undefined ? { disabled: body.disabled } : {}) } });
    res.json(user);
  });

  r.delete("/users/:name", async (req, res) => {
    const { name } = parseInput(UserNameParamSchema, req.params, "params");
    if (!(await ctx.users.remove(name))) throw new HttpError(404, `no user ${name}`);
    // a removed person's sign-ins end with the account
    for (const t of await ctx.tokens.list({ includeSessions: true })) {
      if (t.kind === "session" && t.name === name && t.revokedAt === undefined) await ctx.tokens.revoke(t.id, identityOf(res).name);
    }
    res.status(204).end();
  });

  r.post("/sessions", async (req, res) => {
    const body = parseInput(SignInBodySchema, req.body ?? {});
    const user = await ctx.users.verify(body.name, body.password);
    if (!user) {
      (res.locals["failedAuth"] as (() => void) | undefined)?.();
      throw new HttpError(401, "wrong name or password");
    }
    const now = Date.now();
    const { token, record } = await ctx.tokens.create(
      { kind: "session", name: user.name, role: user.role, scope: {}, createdBy: user.name, expiresAt: now + ctx.config.sessionTtlMs },
      now,
    );
    auditNote(res, { actor: user.name, role: user.role, target: record.id });
    res.status(201).json({ token, name: user.name, role: user.role, expiresAt: record.expiresAt });
  });

  r.delete("/sessions/current", async (_req, res) => {
    const me = identityOf(res);
    if (me.via !== "session" || !me.tokenId) throw new HttpError(400, "this credential is not a sign-in session; revoke API tokens with POST /api/v1/tokens/:id/revoke");
    await ctx.tokens.revoke(me.tokenId, me.name);
    auditNote(res, { target: me.tokenId });
    res.status(204).end();
  });

  r.get("/me", (_req, res) => void res.json(describe(identityOf(res))));

  r.get("/audit", async (req, res) => {
    const q = parseInput(AuditQuerySchema, req.query, "query");
    const page = await ctx.audit.read(q);
    res.json({ entries: page.entries, ...(page.next ? { next: page.next } : {}) });
  });

  return r;
}

function describe(me: Identity) {
  return { name: me.name, role: me.role, via: me.via, scope: me.scope, maxPriority: me.maxPriority, permissions: permissionsOf(me.role) };
}

