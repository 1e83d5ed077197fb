// The webhook settings of the scheduler's configuration: every problem named by its variable, the secret required
// with lab webhooks, and the links' base defaulting to the scheduler's own address.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadSchedulerConfig } from "../config.js";

const base = { HIL_ADMIN_TOKEN: "admin-token-0001" };

test("lab webhooks need a secret; bad URLs and allow-list entries are named by their variable", () => {
  assert.throws(() => loadSchedulerConfig({ ...base, HIL_WEBHOOKS: "https://ci.example.com/hook" }), /HIL_WEBHOOK_SECRET: HIL_WEBHOOKS is set/);
  assert.throws(() => loadSchedulerConfig({ ...base, HIL_WEBHOOKS: "ftp://x/y,https://u:p@example.com/", HIL_WEBHOOK_SECRET: "s".repeat(16) }), (err: Error) =>
    /HIL_WEBHOOKS: "ftp:\/\/x\/y": only http/.test(err.message) && /HIL_WEBHOOKS: "https:\/\/u:p@example.com\/": put no credentials/.test(err.message),
  );
  assert.throws(() => loadSchedulerConfig({ ...base, HIL_WEBHOOK_SECRET: "short" }), /HIL_WEBHOOK_SECRET: use at least 16 characters/);
  assert.throws(() => loadSchedulerConfig({ ...base, HIL_WEBHOOK_ALLOW_HOSTS: "not a host" }), /HIL_WEBHOOK_ALLOW_HOSTS/);
  assert.throws(() => loadSchedulerConfig({ ...base, HIL_PUBLIC_URL: "lab.example.com" }), /HIL_PUBLIC_URL/);
});

test("defaults: no lab webhooks, 8 attempts from 10 s, links to the scheduler's own address (loopback for all interfaces)", () => {
  const c = loadSchedulerConfig({ ...base, HIL_PORT: "9001", HIL_HOST: "0.0.0.0" });
  assert.equal([c.webhooks, c.webhookSecret, c.webhookAttempts, c.webhookBackoffMs, c.webhookTimeoutMs, c.publicUrl], [[], undefined, 8, 10_000, 10_000, "http://127.0.0.1:9001"]);
  assert.is(loadSchedulerConfig({ ...base, HIL_HOST: "::1" }).publicUrl, "http://[::1]:8080");
  const set = loadSchedulerConfig({
    ...base,
    HIL_WEBHOOKS: "https://a.example.com/h, http://10.0.0.5:8080/h",
    HIL_WEBHOOK_SECRET: "s".repeat(16),
    HIL_WEBHOOK_ALLOW_HOSTS: "ci.internal:8443",
    HIL_PUBLIC_URL: "https://lab.example.com/",
  });
  assert.equal(set.webhooks, ["https://a.example.com/h", "http://10.0.0.5:8080/h"]);
  assert.equal(set.webhookAllowHosts, [{ host: "ci.internal", port: 8443 }]);
  assert.is(set.publicUrl, "https://lab.example.com");
});

test.run();
