// A run is refused at submit when a role's profile lacks a capability one of that role's steps needs: the
// same table the agent's runner and `hil suites check` read (device-profiles' STEP_CAPABILITY), so nothing
// is queued that an agent would fail with STEP_UNSUPPORTED.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RunRequestSchema } from "@hil/contracts";
import { loadProfiles } from "@hil/device-profiles";
import { loadSuites } from "@hil/test-suites";
import type { ArtifactFetcher } from "../src/artifacts/artifact-fetcher.js";
import type { FsArtifactStore } from "../src/artifacts/fs-artifact-store.js";
import { HttpError } from "../src/api/http-error.js";
import { staticCatalog, type ProfileInfo } from "../src/catalog.js";
import { planRun } from "../src/runs/run-submission.js";

const unused = new Proxy({}, { get: () => () => Promise.reject(new Error("not used by this test")) });

async function catalog() {
  const profiles = await loadProfiles();
  const virtual = profiles.get("esp32-virtual");
  if (virtual?.kind !== "esp32") throw new Error("esp32-virtual is not shipped");
  // what a lab admin might write: a board that cannot run Unity's test menu
  const noUnity = { ...virtual, id: "esp32-no-unity", capabilities: virtual.capabilities.filter((c) => c !== "unity") };
  const info = (p: typeof virtual): ProfileInfo => ({ id: p.id, kind: p.kind, profile: p });
  return staticCatalog([...(await loadSuites()).values()], [info(virtual), info(noUnity)]);
}

async function refusal(request: Record<string, unknown>): Promise<HttpError | undefined> {
  try {
    await planRun(RunRequestSchema.parse(request), "ci", await catalog(), [], unused as FsArtifactStore, unused as ArtifactFetcher);
    return undefined;
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
}

test("a profile without the capability a step needs is refused at submit with a 422 naming the profile field and the step", async () => {
  const err = await refusal({ suite: "esp32-unity", profile: "esp32-no-unity", artifacts: {} });
  assert.ok(err, "refused");
  assert.is(err.status, 422);
  assert.match(err.message, /profile esp32-no-unity/);
  assert.match(err.message, /needs capability "unity"/);
  assert.equal(err.extra, { field: "profile" });
});

test("the same suite on a profile that has every capability passes the check (and stops later, at its missing artifact)", async () => {
  const err = await refusal({ suite: "esp32-unity", profile: "esp32-virtual", artifacts: {} });
  assert.ok(err);
  assert.not.match(err.message, /capability/);
  assert.match(err.message, /artifact/);
});

test("a role given by name in `roles` is checked too, and the field names that role", async () => {
  const err = await refusal({ suite: "esp32-unity", roles: { dut: { profile: "esp32-no-unity" } }, artifacts: {} });
  assert.ok(err);
  assert.is(err.status, 422);
  assert.equal(err.extra, { field: "roles.dut.profile" });
});

test.run();
