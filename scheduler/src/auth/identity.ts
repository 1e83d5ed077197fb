import { z } from "zod";
import type { Role } from "./roles.js";

/** Profile globs (`esp32-*`) and labels a token is limited to; empty = the whole lab. */
export const ScopeSchema = z
  .object({
    profiles: z.array(z.string().regex(/^[a-z0-9*][a-z0-9._*-]{0,63}$/, "a profile id or a glob such as esp32-*")).max(32).optional(),
    labels: z.record(z.string().regex(/^[a-zA-Z0-9._/-]{1,63}$/, "a label key"), z.string().max(128)).optional(),
  })
  .strict();
export type Scope = z.infer<typeof ScopeSchema>;

/** Who is calling, once a credential has been checked. `name` is the submitter/holder name everywhere. */
export interface Identity {
  readonly name: string;
  readonly role: Role;
  /** How the caller proved it: a stored API token, a dashboard session, or a token from the configuration. */
  readonly via: "token" | "session" | "config";
  readonly tokenId?: string;
  readonly scope: Scope;
  readonly maxPriority: number;
}

function globMatch(glob: string, value: string): boolean {
  if (!glob.includes("*")) return glob === value;
  const parts = glob.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\-]/g, "\\$&"));
  return new RegExp(`^${parts.join(".*")}$`).test(value);
}

export function scopeAllowsProfile(scope: Scope, profile: string): boolean {
  return scope.profiles === undefined || scope.profiles.length === 0 || scope.profiles.some((g) => globMatch(g, profile));
}

/** True when every label of the scope is on the board with the same value. */
export function scopeAllowsLabels(scope: Scope, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(scope.labels ?? {}).every(([k, v]) => labels[k] === v);
}

export function scopeAllowsBoard(scope: Scope, board: { profile: string; labels: Readonly<Record<string, string>> }): boolean {
  return scopeAllowsProfile(scope, board.profile) && scopeAllowsLabels(scope, board.labels);
}

export function describeScope(scope: Scope): string {
  const parts: string[] = [];
  if (scope.profiles?.length) parts.push(`profiles ${scope.profiles.join(", ")}`);
  const labels = Object.entries(scope.labels ?? {});
  if (labels.length) parts.push(`labels ${labels.map(([k, v]) => `${k}=${v}`).join(", ")}`);
  return parts.length ? parts.join("; ") : "the whole lab";
}

export const NameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "lowercase letters, digits, '.', '_' or '-', at most 64");
