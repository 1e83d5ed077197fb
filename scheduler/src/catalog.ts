import type { Suite } from "@hil/contracts";
import { loadProfiles } from "@hil/device-profiles";
import { loadSuites } from "@hil/test-suites";

/** The little the scheduler needs from a device profile. */
export interface ProfileInfo {
  id: string;
  kind: string;
}

/** Where suites and profiles come from (the shipped YAML by default; tests pass their own). */
export interface Catalog {
  suites(): Promise<Map<string, Suite>>;
  profiles(): Promise<Map<string, ProfileInfo>>;
}

/** The shipped suites and profiles (loaded once, on first use). */
export function defaultCatalog(): Catalog {
  let suites: Promise<Map<string, Suite>> | undefined;
  let profiles: Promise<Map<string, ProfileInfo>> | undefined;
  return {
    suites: () => (suites ??= loadSuites()),
    profiles: () => (profiles ??= loadProfiles()),
  };
}

export function staticCatalog(suites: Suite[], profiles: ProfileInfo[]): Catalog {
  const s = new Map(suites.map((x) => [x.name, x]));
  const p = new Map(profiles.map((x) => [x.id, x]));
  return { suites: async () => s, profiles: async () => p };
}
