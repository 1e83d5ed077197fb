import type { RunRequest } from "@hil/contracts";
import { describeScope, scopeAllowsBoard, scopeAllowsProfile, type Identity } from "../auth/identity.js";
import { unsatisfiable } from "../runs/run-submission.js";
import type { BoardView } from "../store/board-registry.js";
import type { RunPlan } from "../store/run-store.js";
import { HttpError } from "./http-error.js";

/** What can be refused before planning (so a caller learns about its scope, not about boards outside it). */
export function assertRequestInScope(me: Identity, request: RunRequest): void {
  if (request.priority > me.maxPriority) {
    throw new HttpError(403, `${me.name} may submit at priority ${me.maxPriority} at most (asked ${request.priority})`, { field: "priority" });
  }
  const where = describeScope(me.scope);
  const asked: [string, string | undefined][] = [["profile", request.profile], ...Object.entries(request.roles ?? {}).map(([role, r]): [string, string | undefined] => [`roles.${role}.profile`, r.profile])];
  for (const [field, profile] of asked) {
    if (profile !== undefined && !scopeAllowsProfile(me.scope, profile)) throw new HttpError(403, `${me.name} may run only on ${where}; asked profile ${profile}`, { field });
  }
}

/**
 * After assertRequestInScope (priority and the profiles the request names): the planned run must stay
 * within the caller's profiles (a suite's default profile included) and labels.
 * Scope labels the request does not mention are added to every role's requirements, so the run
 * can only land on in-scope boards; a request naming another value for such a label is refused.
 * Changes `plan.roles` in place.
 */
export function assertRunInScope(me: Identity, request: RunRequest, plan: RunPlan, views: readonly BoardView[]): void {
  const scopeLabels = Object.entries(me.scope.labels ?? {});
  const where = describeScope(me.scope);
  for (const [role, req] of Object.entries(plan.roles)) {
    const field = role in (request.roles ?? {}) ? `roles.${role}` : "";
    const at = (name: string) => (field ? `${field}.${name}` : name);
    if (!scopeAllowsProfile(me.scope, req.profile)) {
      throw new HttpError(403, `${me.name} may run only on ${where}; role ${role} needs profile ${req.profile}`, { field: at("profile") });
    }
    for (const [k, v] of scopeLabels) {
      const asked = req.labels[k];
      if (asked !== undefined && asked !== v) throw new HttpError(403, `${me.name} may run only on ${where}; role ${role} asks ${k}=${asked}`, { field: at("labels") });
      req.labels[k] = v;
    }
    if (req.board !== undefined) {
      const pinned = views.find((v) => v.board.id === req.board);
      if (pinned && !scopeAllowsBoard(me.scope, pinned.board)) {
        throw new HttpError(403, `${me.name} may run only on ${where}; board ${req.board} is outside it`, { field: at("board") });
      }
    }
  }
  if (scopeLabels.length) {
    const why = unsatisfiable(plan.roles, [...views]);
    if (why) throw new HttpError(422, `no board within ${where} can ever run this: ${why}`, { field: "requirements" });
  }
}
