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

test("health checks: scheduled checks off by default, `off` or a duration of 10 s or more; a known-good image file", () => {
  const base = { HIL_ADMIN_TOKEN: "admin-secret-1" };
  assert.is(loadSchedulerConfig(base).healthCheckIntervalMs, 0);
  assert.is(loadSchedulerConfig({ ...base, HIL_HEALTH_CHECK_INTERVAL: "off" }).healthCheckIntervalMs, 0);
  assert.is(loadSchedulerConfig({ ...base, HIL_HEALTH_CHECK_INTERVAL: "6h" }).healthCheckIntervalMs, 6 * 3_600_000);
  assert.throws(() => loadSchedulerConfig({ ...base, HIL_HEALTH_CHECK_INTERVAL: "2s" }), /HIL_HEALTH_CHECK_INTERVAL: use at least 10s, or off/);
  assert.throws(() => loadSchedulerConfig({ ...base, HIL_HEALTH_CHECK_INTERVAL: "often" }), /HIL_HEALTH_CHECK_INTERVAL/);
  assert.is(loadSchedulerConfig(base).healthImageEsp32, undefined);
  const here = new URL(import.meta.url).pathname;
  assert.is(loadSchedulerConfig({ ...base, HIL_HEALTH_IMAGE_ESP32: here }).healthImageEsp32, here);
  assert.throws(() => loadSchedulerConfig({ ...base, HIL_HEALTH_IMAGE_ESP32: `${here}.missing` }), /HIL_HEALTH_IMAGE_ESP32: no such file/);
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

test("the Redis URL may come from a file (it can hold a password); HIL_REDIS_ACL is auto or off", async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "hil-config-"));
  try {
    const file = join(dir, "redis.url");
    writeFileSync(file, "redis://:s3cret@127.0.0.1:6390\n", { mode: 0o600 });
    const c = loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1", REDIS_URL_FILE: file });
    assert.is(c.redisUrl, "redis://:s3cret@127.0.0.1:6390");
    assert.is(c.redisAcl, "auto");
    assert.is(loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1", HIL_REDIS_ACL: "off" }).redisAcl, "off");
    assert.throws(() => loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1", HIL_REDIS_ACL: "yes" }), /HIL_REDIS_ACL/);
    assert.throws(() => loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1", REDIS_URL_FILE: join(dir, "missing") }), /REDIS_URL_FILE: cannot read it/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("agent events must be signed unless HIL_AGENT_AUTH=off", () => {
  assert.is(loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1" }).agentAuth, "required");
  assert.is(loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1", HIL_AGENT_AUTH: "off" }).agentAuth, "off");
  assert.throws(() => loadSchedulerConfig({ HIL_ADMIN_TOKEN: "admin-secret-1", HIL_AGENT_AUTH: "no" }), /HIL_AGENT_AUTH: required \(default\) or off/);
});

test.run();
