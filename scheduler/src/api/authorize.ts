import type { NextFunction, Request, Response } from "express";
import type { AuditLog } from "../auth/audit-log.js";
import type { Identity } from "../auth/identity.js";
import type { RateLimiter } from "../auth/rate-limiter.js";
import { can, type Role } from "../auth/roles.js";
import type { TokenStore } from "../auth/token-store.js";
import { HttpError } from "./http-error.js";
import { ROUTES, type RouteRule } from "./route-policy.js";

interface CompiledRule {
  rule: RouteRule;
  re: RegExp;
  params: string[];
}

function compile(rule: RouteRule): CompiledRule {
  const params: string[] = [];
  const source = rule.path
    .split("/")
    .map((seg) => {
      if (!seg.startsWith(":")) return seg.replace(/[.+?^${}()|[\]\\*]/g, "\\$&");
      params.push(seg.slice(1));
      return "([^/]+)";
    })
    .join("/");
  return { rule, re: new RegExp(`^${source}/?$`), params };
}

const COMPILED = ROUTES.map(compile);

/** The rules whose path matches, whatever the method. */
export function matchRoute(path: string): { rule: RouteRule; params: Record<string, string> }[] {
  const out: { rule: RouteRule; params: Record<string, string> }[] = [];
  for (const c of COMPILED) {
    const m = c.re.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    c.params.forEach((name, i) => (params[name] = m[i + 1] ?? ""));
    out.push({ rule: c.rule, params });
  }
  return out;
}

/** Roles that hold what a rule needs, for messages. */
export function rolesFor(rule: RouteRule): Role[] {
  const all: Role[] = ["viewer", "qa", "ci", "admin", "agent"];
  if (rule.allow === "public" || rule.allow === "signed-in") return all;
  const perm = rule.allow;
  return all.filter((r) => can(r, perm));
}

export interface AuthorizeDeps {
  tokens: TokenStore;
  audit: AuditLog;
  /**
   * Who owns a run or booking, or holds a board's active booking; undefined when the run or booking
   * does not exist (the handler then answers 404) or nobody holds the board (then only admins pass).
   */
  owners: Record<NonNullable<RouteRule["owner"]>, (id: string) => Promise<string | undefined>>;
  /** Failed credential checks per client address. */
  failedAuth: RateLimiter;
  /** Run submissions per caller. */
  submit: RateLimiter;
}

export function identityOf(res: Response): Identity {
  const id = res.locals["identity"] as Identity | undefined;
  if (!id) throw new HttpError(401, "not signed in");
  return id;
}

/** What a handler adds to the audit entry of its call (the middleware writes it on success). */
export function auditNote(res: Response, note: { actor?: string; role?: string; target?: string; detail?: Record<string, unknown> }): void {
  res.locals["audit"] = { ...(res.locals["audit"] as object | undefined), ...note };
}

function tooMany(res: Response, seconds: number, what: string): void {
  res.status(429).set("Retry-After", String(seconds)).json({ error: `${what}; try again in ${seconds} s` });
}

/** Enforces ROUTES: authentication, role, ownership, rate limits, and the audit entry of each success. */
export function authorize(deps: AuthorizeDeps) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const matches = matchRoute(req.path);
      if (matches.length === 0) return next();
      const method = req.method === "HEAD" ? "GET" : req.method;
      const hit = matches.find((m) => m.rule.method === method);
      if (!hit) {
        res.set("Allow", [...new Set(matches.map((m) => m.rule.method))].join(", "));
        throw new HttpError(405, `${req.method} is not allowed on ${req.path}`);
      }
      const { rule } = hit;
      const client = req.ip ?? req.socket.remoteAddress ?? "unknown";
      let params: Record<string, string>;
      try {
        params = Object.fromEntries(Object.entries(hit.params).map(([k, v]) => [k, decodeURIComponent(v)]));
      } catch {
        throw new HttpError(400, "invalid request", { issues: [{ path: "params", message: "the path is not valid percent-encoding" }] });
      }

      if (rule.allow === "public") {
        if (rule.limit === "sign-in") {
          const wait = deps.failedAuth.retryAfter(client);
          if (wait > 0) return tooMany(res, wait, "too many failed sign-ins from this address");
          res.locals["failedAuth"] = () => deps.failedAuth.hit(client);
        }
        if (rule.audit) auditOnSuccess(deps, res, rule, params, undefined);
        return next();
      }

      const wait = deps.failedAuth.retryAfter(client);
      if (wait > 0) return tooMany(res, wait, "too many failed credential checks from this address");
      const header = req.get("authorization") ?? "";
      const bearer = /^Bearer +([\x21-\x7e]{1,512})$/i.exec(header)?.[1];
      const identity = bearer === undefined ? undefined : await deps.tokens.authenticate(bearer);
      if (!identity) {
        if (bearer !== undefined) deps.failedAuth.hit(client);
        res
          .status(401)
          .set("WWW-Authenticate", 'Bearer realm="hil"')
          .json({
            error: bearer === undefined ? "missing bearer token: send Authorization: Bearer <token> (the admin token is in .hil/lab.env)" : "unknown, revoked or expired token",
          });
        return;
      }
      res.locals["identity"] = identity;

      if (rule.allow !== "signed-in" && !can(identity.role, rule.allow)) {
        throw new HttpError(403, `${identity.name} (role ${identity.role}) may not ${req.method} ${rule.path}; this needs role ${rolesFor(rule).join(" or ")}`);
      }
      if (rule.owner && !can(identity.role, "admin")) {
        const id = params["id"] ?? "";
        const owner = await deps.owners[rule.owner](id);
        if (rule.owner === "board-holder" && owner !== identity.name) {
          throw new HttpError(403, owner === undefined
            ? `board ${id} has no active booking; book it first (only the holder of its active booking or an admin may do this)`
            : `board ${id} is held by ${owner}; only the holder of its active booking or an admin may do this`);
        }
        if (owner !== undefined && owner !== identity.name) {
          throw new HttpError(403, `${rule.owner} ${id} belongs to ${owner}; only its ${rule.owner === "run" ? "submitter" : "holder"} or an admin may do this`);
        }
      }
      if (rule.limit === "submit") {
        const w = deps.submit.take(identity.name);
        if (w > 0) return tooMany(res, w, `${identity.name} submitted more than ${deps.submit.max} runs in ${deps.submit.windowMs / 1000} s`);
      }
      if (rule.audit) auditOnSuccess(deps, res, rule, params, identity);
      next();
    } catch (err) {
      next(err);
    }
  };
}

function auditOnSuccess(deps: AuthorizeDeps, res: Response, rule: RouteRule, params: Record<string, string>, identity: Identity | undefined): void {
  res.once("finish", () => {
    if (res.statusCode >= 400 || !rule.audit) return;
    const note = (res.locals["audit"] ?? {}) as { actor?: string; role?: string; target?: string; detail?: Record<string, unknown> };
    const target = note.target ?? params["id"] ?? params["name"];
    void deps.audit.record({
      actor: note.actor ?? identity?.name ?? "anonymous",
      role: note.role ?? identity?.role ?? "none",
      action: rule.audit,
      ...(target !== undefined ? { target } : {}),
      ...(note.detail ? { detail: note.detail } : {}),
    });
  });
}
