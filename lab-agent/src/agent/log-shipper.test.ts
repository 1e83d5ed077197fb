// LogShipper on a private Redis: lines appended in bursts while batches are in flight all reach the board's stream
// and the run's stream once and in order; flush() resolves only once everything appended before it is in Redis; a
// line Redis refuses is counted and reported while the rest of its batch is written; a quiet board's line does not
// wait for a timer.
import { randomUUID } from "node:crypto";
import { labKeys, type LogLine } from "@hil/contracts";
import { startPrivateRedis, type PrivateRedis } from "@hil/lab-protocol/redis";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LogShipper } from "./log-shipper.js";

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

const line = (board: string, seq: number, run: string | null = null): LogLine => ({ board, run, seq, mono: seq, wall: Date.now(), stream: "serial", text: `line ${seq}` });

async function seqsIn(key: string): Promise<number[]> {
  const entries = (await redis.xrange(key, "-", "+")) as [string, string[]][];
  return entries.map(([, fields]) => (JSON.parse(fields[1] ?? "{}") as LogLine).seq);
}

test("bursts from two boards while batches are in flight: every line once, in order, on board and run streams", async () => {
  const keys = labKeys(`t${randomUUID().slice(0, 8)}`);
  const shipper = new LogShipper(redis, keys);
  await shipper.init(["a", "b"]);
  let seq = 0;
  // bursts across many turns of the event loop, some bigger than one batch, so writes overlap
  for (let burst = 0; burst < 40; burst++) {
    const size = burst % 10 === 0 ? 2500 : 30;
    for (let i = 0; i < size; i++) {
      seq++;
      shipper.append(line("a", seq, "r1"));
      shipper.append(line("b", seq));
    }
    await new Promise((r) => setImmediate(r));
  }
  await shipper.flush();
  const expected = Array.from({ length: seq }, (_, i) => i + 1);
  assert.equal(await seqsIn(keys.boardLog("a")), expected);
  assert.equal(await seqsIn(keys.boardLog("b")), expected);
  assert.equal(await seqsIn(keys.runLog("r1")), expected);
  assert.is(shipper.failedBatches, 0);
});

test("flush() resolves once every line appended before it is in Redis", async () => {
  const keys = labKeys(`t${randomUUID().slice(0, 8)}`);
  const shipper = new LogShipper(redis, keys);
  await shipper.init(["a"]);
  for (let i = 1; i <= 1500; i++) shipper.append(line("a", i));
  await shipper.flush();
  assert.is(await redis.xlen(keys.boardLog("a")), 1500);
});

test("a quiet board's single line is in Redis within a few milliseconds", async () => {
  const keys = labKeys(`t${randomUUID().slice(0, 8)}`);
  const shipper = new LogShipper(redis, keys);
  await shipper.init(["a"]);
  const t0 = performance.now();
  shipper.append(line("a", 1));
  while ((await redis.xlen(keys.boardLog("a"))) === 0) await new Promise((r) => setTimeout(r, 1));
  assert.ok(performance.now() - t0 < 40, `took ${(performance.now() - t0).toFixed(1)} ms`);
});

test("a line Redis refuses is counted and reported; the rest of its batch is written", async () => {
  const keys = labKeys(`t${randomUUID().slice(0, 8)}`);
  const errors: string[] = [];
  const shipper = new LogShipper(redis, keys, (err) => errors.push(err.message));
  await shipper.init(["a"]);
  // another writer put entry 5-0 on the board's stream after the shipper read where it stood
  await redis.xadd(keys.boardLog("a"), "5-0", "json", JSON.stringify(line("a", 5)));
  for (let i = 1; i <= 7; i++) shipper.append(line("a", i));
  await shipper.flush();
  assert.equal(await seqsIn(keys.boardLog("a")), [5, 6, 7]);
  assert.is(shipper.failedBatches, 1);
  assert.match(errors[0] ?? "", /refused 5 of 7 log lines/);
});

test.run();
