import { randomBytes } from "node:crypto";
import type { ArtifactRef, Run, RunRequest } from "@hil/contracts";
import { checkRoleProfile } from "@hil/test-suites";
import { ArtifactFetchError, type ArtifactFetcher } from "../artifacts/artifact-fetcher.js";
import type { FsArtifactStore } from "../artifacts/fs-artifact-store.js";
import type { Catalog } from "../catalog.js";
import { HttpError } from "../api/http-error.js";
import { matches, type BoardView, type RoleRequirement } from "../store/board-registry.js";
import type { RunPlan } from "../store/run-store.js";

export function newRunId(now = Date.now()): string {
  return `r-${now.toString(36)}-${randomBytes(4).toString("hex")}`;
}

function unprocessable(message: string, field?: string): HttpError {
  return new HttpError(422, message, field ? { field } : {});
}

/**
 * Turns a valid RunRequest into what the dispatcher needs, or refuses it (422) with the reason: an
 * unknown suite/profile/board/artifact, a profile of the wrong kind, or requirements that no
 * registered board could ever meet. Nothing impossible is queued.
 */
export async function planRun(
  request: RunRequest,
  submitter: string,
  catalog: Catalog,
  views: BoardView[],
  artifacts: FsArtifactStore,
  fetcher: ArtifactFetcher,
  now = Date.now(),
): Promise<{ run: Run; plan: RunPlan }> {
  const suite = (await catalog.suites()).get(request.suite);
  if (!suite) {
    const known = [...(await catalog.suites()).keys()].sort().join(", ");
    throw unprocessable(`unknown suite "${request.suite}"; known suites: ${known || "none"}`, "suite");
  }
  const profiles = await catalog.profiles();
  const roleNames = Object.keys(suite.roles);
  for (const r of Object.keys(request.roles ?? {})) {
    if (!roleNames.includes(r)) throw unprocessable(`suite ${suite.name} has no role "${r}" (roles: ${roleNames.join(", ")})`, `roles.${r}`);
  }
  const roles: Record<string, RoleRequirement> = {};
  roleNames.forEach((role, i) => {
    const base = suite.roles[role];
    if (!base) return;
    const over = { ...(i === 0 ? { profile: request.profile, board: request.board, labels: request.labels } : {}), ...(request.roles?.[role] ?? {}) };
    const field = request.roles?.[role] ? `roles.${role}` : "";
    let profile = over.profile ?? base.profile;
    if (over.board !== undefined) {
      const pinned = views.find((v) => v.board.id === over.board);
      if (!pinned) throw unprocessable(`board "${over.board}" is not registered; see GET /api/v1/boards`, field ? `${field}.board` : "board");
      if (over.profile === undefined) profile = pinned.board.profile;
    }
    const want = profiles.get(profile);
    if (!want) {
      throw unprocessable(`unknown profile "${profile}"; known profiles: ${[...profiles.keys()].sort().join(", ") || "none"}`, field ? `${field}.profile` : "profile");
    }
    const suiteProfile = profiles.get(base.profile);
    if (suiteProfile && suiteProfile.kind !== want.kind) {
      throw unprocessable(`suite ${suite.name} role ${role} needs a ${suiteProfile.kind} board; profile ${profile} is ${want.kind}`, field ? `${field}.profile` : "profile");
    }
    // the same capability table the agent's runner and `hil suites check` read: no run is queued for a step its board cannot do
    const misfit = want.profile ? checkRoleProfile(suite, role, want.profile)[0] : undefined;
    if (misfit) throw unprocessable(`suite ${suite.name} cannot run on profile ${profile}: ${misfit.path.join(".")}: ${misfit.message}`, field ? `${field}.profile` : "profile");
    roles[role] = { profile, labels: { ...(base.labels ?? {}), ...(over.labels ?? {}) }, ...(over.board !== undefined ? { board: over.board } : {}) };
  });

  const refs: Record<string, ArtifactRef> = {};
  for (const [name, value] of Object.entries(request.artifacts)) {
    if (!(name in suite.artifacts)) {
      throw unprocessable(`suite ${suite.name} takes no artifact "${name}" (it takes: ${Object.keys(suite.artifacts).join(", ") || "none"})`, `artifacts.${name}`);
    }
    if ("url" in value) {
      refs[name] = { ...(await fetchInto(fetcher, value.url, name)), filename: value.url.split("/").pop() ?? name };
      continue;
    }
    // named again: the artifact sweep measures retention from the last use (touched before the size is read, so a sweep running now keeps it)
    await artifacts.touch(value.sha256);
    const size = await artifacts.size(value.sha256);
    if (size === undefined) throw unprocessable(`artifact ${name} (${value.sha256}) is not stored; upload it with POST /api/v1/artifacts first`, `artifacts.${name}`);
    refs[name] = { ...value, size };
  }
  for (const [name, spec] of Object.entries(suite.artifacts)) {
    if (spec.required && !(name in refs)) throw unprocessable(`suite ${suite.name} needs the artifact "${name}"`, `artifacts.${name}`);
  }

  const why = unsatisfiable(roles, views);
  if (why) throw unprocessable(`no registered board can ever run this: ${why}`, "requirements");

  const id = newRunId(now);
  const run: Run = { id, request, submitter, state: "queued", boards: {}, attempts: [], createdAt: now, steps: [], cases: [], waitingFor: "dispatching" };
  const plan: RunPlan = {
    submitter,
    priority: request.priority,
    suite,
    roles,
    artifacts: refs,
    timeoutMs: request.timeoutSec !== undefined ? request.timeoutSec * 1000 : Math.max(1, Math.round(suite.timeout)),
    maxAttempts: request.maxAttempts,
    ...(request.queueTimeoutSec !== undefined ? { queueTimeoutMs: request.queueTimeoutSec * 1000 } : {}),
  };
  return { run, plan };
}

/** Why no agent has distinct registered boards for every role, or undefined when one does. */
export function unsatisfiable(roles: Record<string, RoleRequirement>, views: BoardView[]): string | undefined {
  const entries = Object.entries(roles);
  for (const [role, req] of entries) {
    if (!views.some((v) => matches(v, req))) {
      const labels = Object.keys(req.labels).length ? ` with labels ${JSON.stringify(req.labels)}` : "";
      return `role ${role} needs ${req.board ? `board ${req.board} as ` : ""}a ${req.profile} board${labels}, and none is registered`;
    }
  }
  const agents = new Set(views.map((v) => v.agent));
  for (const agent of agents) {
    const boards = views.filter((v) => v.agent === agent);
    const used = new Set<string>();
    const ok = entries.every(([, req]) => {
      const fit = boards.find((v) => !used.has(v.board.id) && matches(v, req));
      if (fit) used.add(fit.board.id);
      return fit !== undefined;
    });
    if (ok) return undefined;
  }
  return `roles ${entries.map(([r]) => r).join(" + ")} need distinct boards on one agent, and no agent has them all`;
}

/** Fetches an artifact given by URL (see ArtifactFetcher for what is refused); a refusal is 422 naming the artifact. */
async function fetchInto(fetcher: ArtifactFetcher, url: string, name: string): Promise<ArtifactRef> {
  try {
    return await fetcher.fetch(url);
  } catch (err) {
    if (err instanceof ArtifactFetchError) throw unprocessable(`artifact ${name}: ${err.message}`, `artifacts.${name}`);
    throw err;
  }
}
