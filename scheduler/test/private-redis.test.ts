import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import { redisHealth, startPrivateRedis } from "../src/redis/index.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test("a private redis answers, reports its version, and is gone after stop", async () => {
  const redis = await startPrivateRedis();
  assert.ok(redis.port < 5554 || redis.port > 5586, "port outside adb's scan range");
  const client = new Redis(redis.url);
  await client.set("k", "v");
  assert.is(await client.get("k"), "v");
  const health = await redisHealth(client);
  assert.is(health.reachable, true);
  assert.match(health.version ?? "", /^\d+\.\d+/);
  client.disconnect();
  assert.ok(alive(redis.pid));
  await redis.stop();
  assert.not.ok(alive(redis.pid), "redis-server process stopped");
  assert.not.ok(existsSync(redis.dir), "temp dir removed");
});

test("a private redis with a password refuses clients without it; the password is in no command line", async () => {
  const redis = await startPrivateRedis({ password: true });
  const clients: Redis[] = [];
  try {
    assert.ok(redis.password && Buffer.from(redis.password, "base64url").length === 32, "32 random bytes");
    assert.is(redis.url, `redis://:${redis.password}@127.0.0.1:${redis.port}`);
    const anonymous = new Redis(redis.bareUrl, { maxRetriesPerRequest: 0, enableReadyCheck: false });
    anonymous.on("error", () => {});
    clients.push(anonymous);
    try {
      await anonymous.get("k");
      assert.unreachable("a client without the password was served");
    } catch (err) {
      assert.match((err as Error).message, /^NOAUTH/);
    }
    const wrong = new Redis(redis.bareUrl, { password: "not-the-password", maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
    const refusals: string[] = [];
    wrong.on("error", (err: Error) => refusals.push(err.message));
    clients.push(wrong);
    await wrong.connect().then(() => assert.unreachable("a wrong password was accepted"), () => {});
    assert.ok(refusals.some((m) => m.startsWith("WRONGPASS")), refusals.join("; "));
    const authed = new Redis(redis.url);
    clients.push(authed);
    await authed.set("k", "v");
    assert.is(await authed.get("k"), "v");

    const cmdline = readFileSync(`/proc/${redis.pid}/cmdline`, "utf8");
    assert.not.ok(cmdline.includes(redis.password), "password not on redis-server's command line");
    const conf = join(redis.dir, "redis.conf");
    assert.is(statSync(conf).mode & 0o777, 0o600, "redis.conf readable by its owner only");
  } finally {
    for (const c of clients) c.disconnect();
    await redis.stop();
  }
});

test("a given password is kept (the lab reuses its own across restarts)", async () => {
  const redis = await startPrivateRedis({ password: "lab-password-from-a-file" });
  try {
    const client = new Redis(`redis://:lab-password-from-a-file@127.0.0.1:${redis.port}`);
    assert.is(await client.ping(), "PONG");
    client.disconnect();
  } finally {
    await redis.stop();
  }
});

test("health says unreachable when nothing listens", async () => {
  const redis = await startPrivateRedis();
  const client = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on("error", () => {});
  await redis.stop();
  const health = await redisHealth(client, 300);
  assert.is(health.reachable, false);
  client.disconnect();
});

test.run();
