// StreamFollower with read pacing (minIntervalMs) on a real Redis: under a steady flow a watcher gets every entry
// once and in order, in fewer, larger batches than without pacing; a single line on a quiet stream still arrives
// within milliseconds.
import { randomUUID } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import { StreamFollower, type StreamEntry, type StreamWatcher } from "../src/logs/log-stream.js";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";

let server: PrivateRedis;
let redis: Redis;

test.before(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url);
});
test.after(async () => {
  redis?.disconnect();
  await server?.stop();
});

class Collector implements StreamWatcher {
  lastId = "0-0";
  readonly seqs: number[] = [];
  batches = 0;
  constructor(readonly key: string) {}
  deliver(entries: StreamEntry[]): void {
    this.batches++;
    for (const e of entries) this.seqs.push(Number(e.id.split("-")[0]));
    this.lastId = entries[entries.length - 1]?.id ?? this.lastId;
  }
}

/** Writes `total` entries (ids 1-0, 2-0, …) in small steps, one step per millisecond or so. */
async function steadyFlow(key: string, total: number, perStep: number): Promise<void> {
  for (let seq = 1; seq <= total; ) {
    const pipe = redis.pipeline();
    for (let i = 0; i < perStep && seq <= total; i++, seq++) pipe.xadd(key, `${seq}-0`, "json", "{}");
    await pipe.exec();
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function follow(minIntervalMs: number): Promise<Collector> {
  const key = `t:${randomUUID()}`;
  const w = new Collector(key);
  const follower = new StreamFollower(redis, { blockMs: 100, minIntervalMs });
  const stop = follower.watch(w);
  await steadyFlow(key, 6000, 60);
  for (let i = 0; i < 200 && w.seqs.length < 6000; i++) await new Promise((r) => setTimeout(r, 10));
  stop();
  await follower.stop();
  return w;
}

test("paced reads deliver a steady flow once and in order, in fewer batches", async () => {
  const unpaced = await follow(0);
  const paced = await follow(20);
  const all = Array.from({ length: 6000 }, (_, i) => i + 1);
  assert.equal(unpaced.seqs, all);
  assert.equal(paced.seqs, all);
  assert.ok(paced.batches * 2 < unpaced.batches, `paced ${paced.batches} batches, unpaced ${unpaced.batches}`);
});

test("a single line on a quiet stream is not held back by the pacing", async () => {
  const key = `t:${randomUUID()}`;
  const w = new Collector(key);
  const follower = new StreamFollower(redis, { blockMs: 100, minIntervalMs: 1000 });
  const stop = follower.watch(w);
  await new Promise((r) => setTimeout(r, 150));
  const delays: number[] = [];
  for (let seq = 1; seq <= 3; seq++) {
    const t0 = performance.now();
    await redis.xadd(key, `${seq}-0`, "json", "{}");
    while (w.seqs.length < seq) await new Promise((r) => setTimeout(r, 1));
    delays.push(performance.now() - t0);
  }
  stop();
  await follower.stop();
  // one line per read: a hundredth of the interval at most, where the full pause would be a second
  assert.ok(Math.max(...delays) < 100, `delays ${delays.map((d) => d.toFixed(1)).join(", ")} ms`);
});

test.run();
