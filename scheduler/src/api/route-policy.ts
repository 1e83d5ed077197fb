import type { Permission } from "../auth/roles.js";

/**
 * The whole access policy of the HTTP API in one table: every route, who may call it, whose
 * resource it must be, and which successful calls go into the audit log. The `authorize`
 * middleware enforces it before any handler runs; a route missing here answers 404 to everyone.
 *
 * - `allow`: "public" (no credential), "signed-in" (any valid credential), or a permission
 *   (see auth/roles.ts for which roles hold it).
 * - `owner`: the caller must be the run's submitter / the booking's holder / the holder of the
 *   board's currently active booking ("board-holder"), unless it is admin.
 * - `scoped`: the handler also checks the caller's profile/label scope against the boards the
 *   request would touch (tokens may be limited to `esp32-*` or `site=berlin`).
 * - `limit`: a per-caller rate limit applies.
 * - `audit`: the action name written to the audit log when the call succeeds.
 */
export interface RouteRule {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE";
  readonly path: string;
  readonly allow: "public" | "signed-in" | Permission;
  readonly owner?: "run" | "booking" | "board-holder";
  readonly scoped?: true;
  readonly limit?: "submit" | "sign-in";
  readonly audit?: string;
}

export const ROUTES: readonly RouteRule[] = [
  { method: "GET", path: "/healthz", allow: "public" },
  { method: "GET", path: "/metrics", allow: "read" },
  { method: "GET", path: "/api/v1/openapi.json", allow: "read" },

  { method: "POST", path: "/api/v1/runs", allow: "submit", scoped: true, limit: "submit" },
  { method: "GET", path: "/api/v1/runs", allow: "read" },
  { method: "GET", path: "/api/v1/runs/:id", allow: "read" },
  { method: "POST", path: "/api/v1/runs/:id/cancel", allow: "submit", owner: "run", audit: "run.cancel" },
  { method: "GET", path: "/api/v1/runs/:id/junit", allow: "read" },
  { method: "GET", path: "/api/v1/runs/:id/log", allow: "read" },

  { method: "GET", path: "/api/v1/boards", allow: "read" },
  { method: "GET", path: "/api/v1/boards/:id", allow: "read" },
  { method: "GET", path: "/api/v1/boards/:id/log", allow: "read" },
  { method: "GET", path: "/api/v1/boards/:id/history", allow: "read" },
  { method: "POST", path: "/api/v1/boards/:id/quarantine", allow: "admin", audit: "board.quarantine" },
  { method: "POST", path: "/api/v1/boards/:id/release-quarantine", allow: "admin", audit: "board.release-quarantine" },
  { method: "POST", path: "/api/v1/boards/:id/release-owner", allow: "admin", audit: "board.release-owner" },
  { method: "POST", path: "/api/v1/boards/:id/console", allow: "console", owner: "board-holder", audit: "board.console" },
  { method: "POST", path: "/api/v1/boards/:id/reset", allow: "console", owner: "board-holder", audit: "board.reset" },
  { method: "POST", path: "/api/v1/boards/:id/flash", allow: "console", owner: "board-holder", audit: "board.flash" },
  // WebSocket upgrades (a plain GET answers 426): the holder's `hil serial`, and the board's agent's end of it
  { method: "GET", path: "/api/v1/boards/:id/serial", allow: "console", owner: "board-holder", audit: "board.serial" },
  { method: "GET", path: "/api/v1/agent/tunnels/:id", allow: "serial:relay" },

  { method: "POST", path: "/api/v1/bookings", allow: "book", scoped: true, audit: "booking.create" },
  { method: "GET", path: "/api/v1/bookings", allow: "read" },
  { method: "GET", path: "/api/v1/bookings/:id", allow: "read" },
  { method: "POST", path: "/api/v1/bookings/:id/extend", allow: "book", owner: "booking", audit: "booking.extend" },
  { method: "POST", path: "/api/v1/bookings/:id/release", allow: "book", owner: "booking", audit: "booking.release" },

  { method: "POST", path: "/api/v1/artifacts", allow: "artifact:write" },
  { method: "GET", path: "/api/v1/artifacts/:sha256", allow: "artifact:read" },

  // webhooks for the caller's own runs; the handlers show and delete only the caller's (admin: all)
  { method: "POST", path: "/api/v1/webhooks", allow: "submit", audit: "webhook.create" },
  { method: "GET", path: "/api/v1/webhooks", allow: "submit" },
  { method: "DELETE", path: "/api/v1/webhooks/:id", allow: "submit", audit: "webhook.delete" },

  { method: "GET", path: "/api/v1/tokens", allow: "admin" },
  { method: "POST", path: "/api/v1/tokens", allow: "admin", audit: "token.create" },
  { method: "POST", path: "/api/v1/tokens/:id/revoke", allow: "admin", audit: "token.revoke" },

  { method: "GET", path: "/api/v1/users", allow: "admin" },
  { method: "POST", path: "/api/v1/users", allow: "admin", audit: "user.create" },
  { method: "PATCH", path: "/api/v1/users/:name", allow: "admin", audit: "user.update" },
  { method: "DELETE", path: "/api/v1/users/:name", allow: "admin", audit: "user.delete" },

  { method: "POST", path: "/api/v1/sessions", allow: "public", limit: "sign-in", audit: "session.create" },
  { method: "DELETE", path: "/api/v1/sessions/current", allow: "signed-in", audit: "session.end" },
  { method: "GET", path: "/api/v1/me", allow: "signed-in" },

  { method: "GET", path: "/api/v1/audit", allow: "admin" },
];
