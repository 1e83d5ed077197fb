import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadSchedulerConfig } from "./config.js";

test("defaults, token names, durations; the result is frozen", () => {
  const c = loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1", HIL_TOKENS: "ci:ci-token-123, qa:qa:qa-token-456", HIL_LEASE_TTL: "20s", LAB_PORT: "9000" });
  assert.is(c.port, 9000);
  assert.is(c.leaseTtlMs, 20_000);
  assert.is(c.namespace, "hil");
  assert.equal(
    c.tokens.map((t) => `${t.name}/${t.role}/${t.token}`),
    ["admin/admin/admin-secret-1", "ci/ci/ci-token-123", "qa/qa/qa-token-456"],
  );
  assert.ok(Object.isFrozen(c));
  assert.throws(() => ((c as { port: number }).port = 1));
});

test("HIL_PORT wins over LAB_PORT", () => {
  assert.is(loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1", HIL_PORT: "7000", LAB_PORT: "9000" }).port, 7000);
});

test("every problem is reported at once", () => {
  try {
    loadSchedulerConfig({ REDIS_URL: "http://x", HIL_TOKENS: "broken", HIL_LEASE_TTL: "soon", HIL_MAX_ATTEMPTS: "0" });
    assert.unreachable("should throw");
  } catch (err) {
    const msg = (err as Error).message;
    for (const field of ["REDIS_URL", "HIL_ADMIN_TOKEN", "HIL_TOKENS", "HIL_LEASE_TTL", "HIL_MAX_ATTEMPTS"]) assert.match(msg, field);
  }
});

test.run();
