import { z } from "zod";

/**
 * Who may do what. People and CI get one of viewer / qa / ci / admin; each lab agent gets `agent`,
 * which opens nothing of the API but artifact downloads (agents talk to schedulers through Redis).
 */
export const RoleSchema = z.enum(["viewer", "qa", "ci", "admin", "agent"]);
export type Role = z.infer<typeof RoleSchema>;

/** Roles an admin may hand to a person (an agent is not a person). */
export const PersonRoleSchema = z.enum(["viewer", "qa", "ci", "admin"]);

export type Permission =
  /** boards, runs, logs, bookings, metrics, the OpenAPI document */
  | "read"
  /** download a stored artifact (agents fetch the firmware they flash) */
  | "artifact:read"
  /** upload an artifact (CI before a run, QA before flashing a held board) */
  | "artifact:write"
  /** book a board; release/extend one's own bookings */
  | "book"
  /** type into, reset or flash a board one holds */
  | "console"
  /** submit runs; cancel one's own runs */
  | "submit"
  /** tokens, users, quarantine, the audit log, other people's runs and bookings */
  | "admin"
  /** carry a board's end of a holder's serial tunnel (`hil serial`): agents only */
  | "serial:relay";

const GRANTS: Readonly<Record<Role, readonly Permission[]>> = {
  viewer: ["read", "artifact:read"],
  qa: ["read", "artifact:read", "artifact:write", "book", "console"],
  ci: ["read", "artifact:read", "artifact:write", "book", "submit"],
  admin: ["read", "artifact:read", "artifact:write", "book", "console", "submit", "admin"],
  agent: ["artifact:read", "serial:relay"],
};

export function can(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

export function permissionsOf(role: Role): readonly Permission[] {
  return GRANTS[role];
}

/** Highest run priority a role may ask for when its token sets no limit (50 is the default priority). */
export function defaultMaxPriority(role: Role): number {
  return role === "admin" ? 100 : 50;
}
