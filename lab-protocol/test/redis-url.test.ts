import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { withTempDir } from "@hil/test-kit";
import { createRedisClient, explainRedisError, isCluster } from "../src/redis/redis-client.js";
import { parseRedisUrl, redisUrlHasCredentials, redisUrlProblem } from "../src/redis/redis-url.js";

test("a plain URL reaches ioredis unchanged, its credentials read for the login checks", () => {
  const t = parseRedisUrl("redis://:p%40ss@10.0.0.5:6380/2?family=6");
  assert.is(t.mode, "standalone");
  assert.is(t.mode === "standalone" && t.url, "redis://:p%40ss@10.0.0.5:6380/2?family=6");
  assert.is(t.password, "p@ss");
  assert.is(t.tls, undefined);
  assert.ok(redisUrlHasCredentials("redis://user:pw@h:1"));
  assert.not.ok(redisUrlHasCredentials("redis://h:1"));
});

test("a cluster URL lists its seed nodes; credentials and TLS files come off the URL", () => {
  const t = parseRedisUrl("rediss+cluster://hil-scheduler:s%3Acret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002?tls_ca=/etc/ca.pem");
  assert.is(t.mode, "cluster");
  assert.equal(t.mode === "cluster" && t.nodes, [
    { host: "10.0.0.1", port: 7000 },
    { host: "10.0.0.2", port: 7001 },
    { host: "::1", port: 7002 },
  ]);
  assert.is(t.username, "hil-scheduler");
  assert.is(t.password, "s:cret");
  assert.equal(t.tls, { ca: "/etc/ca.pem" });
  assert.not.ok(redisUrlHasCredentials("redis+cluster://a:1,b:2"));
  assert.equal(parseRedisUrl("redis+cluster://redis-a").mode === "cluster" && parseRedisUrl("redis+cluster://redis-a"), { mode: "cluster", nodes: [{ host: "redis-a", port: 6379 }] });
});

test("a Sentinel URL names the Sentinels, the primary and the db", () => {
  const t = parseRedisUrl("redis+sentinel://:pw@s1:26379,s2/lab-primary/3?sentinel_password=spw");
  assert.equal(t, {
    mode: "sentinel",
    sentinels: [
      { host: "s1", port: 26379 },
      { host: "s2", port: 26379 },
    ],
    primary: "lab-primary",
    db: 3,
    sentinelPassword: "spw",
    password: "pw",
  });
});

test("a bad URL gets a message that says what to write, never the password", () => {
  const cases: [string, RegExp][] = [
    ["http://x", /must be one of redis:\/\/host:port/],
    ["redis+cluster://", /names no host/],
    ["redis+cluster://a:1,b:99999", /"b:99999" is not host:port/],
    ["redis+cluster://a:1/2", /database 0 only/],
    ["redis+cluster://a:1?tls_ca=/ca.pem", /use a rediss\+cluster:\/\/ URL/],
    ["rediss+cluster://a:1?tls_cert=/c.pem", /tls_cert and tls_key go together/],
    ["redis+cluster://a:1?foo=1", /unknown query parameter foo/],
    ["redis+sentinel://s1:26379", /names no primary/],
    ["redis+sentinel://s1:26379/prim/x", /database number only/],
    ["redis://:topsecret@", /names no host|not a valid URL/],
  ];
  for (const [url, message] of cases) {
    const problem = redisUrlProblem(url);
    assert.ok(problem, `${url} was accepted`);
    assert.match(problem ?? "", message, url);
    assert.not.match(problem ?? "", /topsecret/);
  }
});

test("createRedisClient makes a Cluster for a cluster URL and a Redis otherwise, TLS files read", async () => {
  const cluster = createRedisClient("redis+cluster://127.0.0.1:7000,127.0.0.1:7001", { lazyConnect: true, maxRetriesPerRequest: null, password: "agent-token" });
  const single = createRedisClient("redis://127.0.0.1:7000", { lazyConnect: true });
  try {
    assert.ok(cluster instanceof Cluster && isCluster(cluster));
    // BullMQ reads a cluster's per-node options: a worker's connection must never give up on a command
    assert.is(cluster instanceof Cluster && cluster.options.redisOptions?.maxRetriesPerRequest, null);
    assert.is(cluster instanceof Cluster && cluster.options.redisOptions?.password, "agent-token");
    assert.ok(single instanceof Redis && !isCluster(single));
  } finally {
    cluster.disconnect();
    single.disconnect();
  }
  await withTempDir(async (dir) => {
    const ca = join(dir, "ca.pem");
    await writeFile(ca, "-----BEGIN CERTIFICATE-----\n");
    const tls = createRedisClient(`rediss://127.0.0.1:7000?tls_ca=${encodeURIComponent(ca)}`, { lazyConnect: true });
    try {
      assert.ok(tls instanceof Redis);
      assert.is(String((tls as Redis).options.tls?.ca), "-----BEGIN CERTIFICATE-----\n");
    } finally {
      tls.disconnect();
    }
    assert.throws(() => createRedisClient(`rediss://127.0.0.1:7000?tls_ca=${encodeURIComponent(join(dir, "missing.pem"))}`), /cannot read .*missing\.pem \(tls_ca in the Redis URL\)/);
  });
});

test("a cluster client's slot-map failure carries the node's own answer (a WRONGPASS gets the agent's login hint)", () => {
  const failed = Object.assign(new Error("Failed to refresh slots cache."), { lastNodeError: new Error("WRONGPASS invalid username-password pair") });
  assert.is(explainRedisError(failed).message, "Failed to refresh slots cache. Last node answered: WRONGPASS invalid username-password pair");
  const plain = new Error("connect ECONNREFUSED 127.0.0.1:7000");
  assert.is(explainRedisError(plain), plain);
});

test.run();
