import type { Suite } from "@hil/contracts";
import { loadProfiles, type DeviceProfile } from "@hil/device-profiles";
import { loadSuites } from "@hil/test-suites";

/** The little the scheduler needs from a device profile. */
export interface ProfileInfo {
  id: string;
  kind: string;
  /** The profile's health-check suite ("none" or absent: no check; see docs/scheduler.md, "Board health"). */
  healthCheck?: string;
  /** ESP32: where an app image goes (the recovery ladder's reflash). */
  appOffset?: number;
  /** The whole profile, when the catalog has it: a run is then checked against its capabilities at submit. */
  profile?: DeviceProfile;
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
    profiles: () =>
      (profiles ??= loadProfiles().then(
        (all) =>
          new Map(
            [...all].map(([id, p]) => [id, { id, kind: p.kind, healthCheck: p.healthCheck, profile: p, ...(p.kind === "esp32" ? { appOffset: p.flash.appOffset } : {}) }]),
          ),
      )),
  };
}

export function staticCatalog(suites: Suite[], profiles: ProfileInfo[]): Catalog {
  const s = new Map(suites.map((x) => [x.name, x]));
  const p = new Map(profiles.map((x) => [x.id, x]));
  return { suites: async () => s, profiles: async () => p };
}
