// The bench's virtual air: a phone's scripted provisioning test finds a device by name prefix, waits for
// one that starts advertising, and fails, saying why, when nothing is in range or the device refuses.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { benchAir, VirtualAir } from "../src/virtual/air.js";
import { runInstrumentation, InstrumentationScriptSchema } from "../src/virtual/android/instrumentation.js";

test("a request waits for a service that starts advertising; a withdrawn one is out of range", async () => {
  const air = new VirtualAir();
  const seen: Record<string, string>[] = [];
  setTimeout(() => air.advertise({ name: "PROV_ABC123", handle: (r) => (seen.push(r), { ok: true, message: "took them" }) }), 50);
  const answer = await air.request("PROV_", { ssid: "x" }, 5_000);
  assert.equal(answer, { service: "PROV_ABC123", reply: { ok: true, message: "took them" } });
  assert.equal(seen, [{ ssid: "x" }]);
  const withdraw = air.advertise({ name: "PROV_DEF456", handle: () => ({ ok: true, message: "" }) });
  withdraw();
  assert.equal(air.scan("PROV_D"), []);
  assert.is(await air.request("OTHER_", {}, 20), undefined);
});

async function instrument(script: unknown): Promise<string> {
  let out = "";
  await runInstrumentation(InstrumentationScriptSchema.parse(script), { component: "com.example.p.test/androidx.test.runner.AndroidJUnitRunner", raw: true, classFilter: null, write: async (t) => void (out += t), log: () => undefined });
  return out;
}

test("a provisioning test with no device in range fails with the reason; with a device that refuses, with its answer", async () => {
  const none = await instrument({ tests: [{ class: "com.example.p.ProvisionTest", name: "sends", provision: { servicePrefix: "NOBODY_", ssid: "lab", scanMs: 30 } }] });
  assert.match(none, /INSTRUMENTATION_STATUS_CODE: -2/);
  assert.match(none, /no device advertising NOBODY_\* found in 30 ms/);
  const withdraw = benchAir.advertise({ name: "REFUSE_1", handle: () => ({ ok: false, message: "key mismatch" }) });
  try {
    const refused = await instrument({ tests: [{ class: "com.example.p.ProvisionTest", name: "sends", provision: { servicePrefix: "REFUSE_", ssid: "lab", scanMs: 30 } }] });
    assert.match(refused, /REFUSE_1: key mismatch/);
    assert.match(refused, /INSTRUMENTATION_STATUS_CODE: -2/);
  } finally {
    withdraw();
  }
});

test.run();
