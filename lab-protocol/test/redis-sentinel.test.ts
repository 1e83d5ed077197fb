// The redis+sentinel:// form on real processes: a password-protected primary, its replica and one Sentinel
// (redis-server --sentinel), all on free ports in temp dirs and stopped by PID. The lab's client finds the
// primary through the Sentinel, and after `SENTINEL FAILOVER` its writes land on the promoted replica.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makeTempDir, type Spawned, spawnTracked, waitUntil } from "@hil/test-kit";
import { createRedisClient, freePort, startPrivateRedis, type PrivateRedis, type RedisClient } from "../src/redis/index.js";

const PRIMARY_NAME = "lab-primary";
let primary: PrivateRedis;
let replica: PrivateRedis;
let sentinel: Spawned | undefined;
let sentinelPort = 0;
let tmp: { dir: string; remove(): Promise<void> };
const clients: (Redis | RedisClient)[] = [];

function direct(url: string): Redis {
  const c = new Redis(url, { maxRetriesPerRequest: 1 }).on("error", () => {});
  clients.push(c);
  return c;
}

test.before(async () => {
  tmp = await makeTempDir("hil-sentinel-");
  primary = await startPrivateRedis({ password: true });
  const password = primary.password ?? "";
  replica = await startPrivateRedis({ password });
  // after a failover the old primary becomes a replica of the new one: both need the password to follow
  for (const node of [primary, replica]) await direct(node.url).config("SET", "masterauth", password);
  await direct(replica.url).replicaof("127.0.0.1", primary.port);
  await waitUntil("the replica in sync", async () => /master_link_status:up/.test(await direct(replica.url).info("replication")));

  sentinelPort = await freePort();
  const conf = join(tmp.dir, "sentinel.conf");
  // the Sentinel rewrites its own file: a fresh one in the temp dir, the password never on a command line
  await writeFile(
    conf,
    [
      `port ${sentinelPort}`,
      "bind 127.0.0.1",
      `dir "${tmp.dir}"`,
      `sentinel monitor ${PRIMARY_NAME} 127.0.0.1 ${primary.port} 1`,
      `sentinel auth-pass ${PRIMARY_NAME} "${password}"`,
      `sentinel down-after-milliseconds ${PRIMARY_NAME} 1000`,
      `sentinel failover-timeout ${PRIMARY_NAME} 10000`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  sentinel = spawnTracked("redis-server", [conf, "--sentinel"]);
  const sentinelClient = direct(`redis://127.0.0.1:${sentinelPort}`);
  // Listing the replica is not enough: Sentinel refuses a failover (NOGOODSLAVE) until it has the replica's own
  // INFO, a recent ping answer and a healthy link to the primary. A CI run once asked a moment too early.
  await waitUntil("the Sentinel to see the replica fit for promotion", async () => {
    const rows = (await sentinelClient.call("SENTINEL", "REPLICAS", PRIMARY_NAME)) as string[][];
    return rows.map(fields).some((r) => r.port === String(replica.port) && promotable(r));
  });
});

function fields(row: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < row.length; i += 2) out[row[i] as string] = row[i + 1] as string;
  return out;
}

function promotable(r: Record<string, string>): boolean {
  const recent = (key: string, ms: number) => Number(r[key]) >= 0 && Number(r[key]) < ms;
  return r.flags === "slave" && r["master-link-status"] === "ok" && recent("info-refresh", 20_000) && recent("last-ok-ping-reply", 3000);
}

test.after(async () => {
  for (const c of clients) c.disconnect();
  await sentinel?.stop();
  await replica?.stop();
  await primary?.stop();
  await tmp?.remove();
});

test("a redis+sentinel:// client writes to the primary, and to the promoted replica after a failover", async () => {
  const lab = createRedisClient(`redis+sentinel://:${encodeURIComponent(primary.password ?? "")}@127.0.0.1:${sentinelPort}/${PRIMARY_NAME}`, {
    maxRetriesPerRequest: null,
  });
  clients.push(lab);
  lab.on("error", () => {});
  await lab.set("{s}:before", "1");
  assert.is(await direct(primary.url).get("{s}:before"), "1", "the write went to the primary Sentinel named");

  // Sentinel's view of the replica is refreshed every few seconds: a refusal in between is asked again
  const sentinelClient = direct(`redis://127.0.0.1:${sentinelPort}`);
  await waitUntil("the Sentinel to start the failover", async () => {
    try {
      return await sentinelClient.call("SENTINEL", "FAILOVER", PRIMARY_NAME);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith("NOGOODSLAVE")) return false;
      throw err;
    }
  }, 30_000, 500);
  await waitUntil("the replica promoted", async () => /role:master/.test(await direct(replica.url).info("replication")));
  await waitUntil("the old primary demoted", async () => /role:slave/.test(await direct(primary.url).info("replication")));
  // the client's connection may still be to the old primary, now read-only: the write must reach the new one
  assert.is(await lab.set("{s}:after", "2"), "OK");
  assert.is(await direct(replica.url).get("{s}:after"), "2", "the write after the failover went to the promoted replica");
  assert.is(await direct(replica.url).get("{s}:before"), "1", "the promoted replica had the earlier write");
});

test.run();
