import { existsSync } from "node:fs";
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
