// LogShipper on a private Redis: lines appended in bursts while batches are in flight all reach the board's stream
// and the run's stream once and in order; flush() resolves only once everything appended before it is in Redis; a
// line Redis refuses is counted and reported while the rest of its batch is written; a quiet board's line does not
// wait for a timer. Outages: lines appended while redis-server is stopped (and restarted on its port and AOF) or
// frozen (SIGSTOP) all arrive once and in order, spilling to a file past the memory bound; lines sent again after a
// lost reply are not doubled on the board or the run stream; a run stream stops at its cap with a marker line.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { labKeys, type LogLine } from "@hil/contracts";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LogShipper } from "./log-shipper.js";
import { startPrivateRedis, type PrivateRedis } from "@hil/test-kit";

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
  await redis.xadd(keys.boardLog("a"), "5-0", "json", JSON.stringify({ ...line("a", 5), text: "another writer" }));
  for (let i = 1; i <= 7; i++) shipper.append(line("a", i));
  await shipper.flush();
  assert.equal(await seqsIn(keys.boardLog("a")), [5, 6, 7]);
  assert.is(shipper.failedBatches, 1);
  assert.match(errors[0] ?? "", /refused 5 of 7 log lines/);
});

test("the same lines sent again (their reply was lost) are written once, on the board streams and the run stream of two boards", async () => {
  const keys = labKeys(`t${randomUUID().slice(0, 8)}`);
  const errors: string[] = [];
  // two shippers that read the same starting point: the second sends what the first wrote, as a retry would
  const first = new LogShipper(redis, keys);
  const again = new LogShipper(redis, keys, (err) => errors.push(err.message));
  await first.init(["a", "b"]);
  await again.init(["a", "b"]);
  const lines = (upTo: number) => Array.from({ length: upTo }, (_, i) => [line("a", i + 1, "r1"), line("b", i + 1, "r1")]).flat();
  const sent = lines(5);
  for (const l of sent) first.append(l);
  await first.flush();
  for (const l of [...sent, ...lines(8).slice(10)]) again.append(l);
  await again.flush();
  assert.equal(await seqsIn(keys.boardLog("a")), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(await seqsIn(keys.boardLog("b")), [1, 2, 3, 4, 5, 6, 7, 8]);
  const run = (await redis.xrange(keys.runLog("r1"), "-", "+")).map(([, f]) => JSON.parse(f[1] ?? "{}") as LogLine);
  assert.equal(
    run.map((l) => `${l.board}${l.seq}`),
    ["a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4", "a5", "b5", "a6", "b6", "a7", "b7", "a8", "b8"],
  );
  assert.equal(errors, [], "a line already written is not an error");
  assert.is(again.failedBatches, 0);
});

test("a run's log stream stops at its cap with one marker line; the board streams keep every line", async () => {
  const keys = labKeys(`t${randomUUID().slice(0, 8)}`);
  const shipper = new LogShipper(redis, keys, undefined, undefined, { maxRunLogLines: 10 });
  await shipper.init(["a", "b"]);
  for (let i = 1; i <= 12; i++) {
    shipper.append(line("a", i, "r1"));
    shipper.append(line("b", i, "r1"));
  }
  await shipper.flush();
  assert.is(await redis.xlen(keys.boardLog("a")), 12);
  assert.is(await redis.xlen(keys.boardLog("b")), 12);
  const run = (await redis.xrange(keys.runLog("r1"), "-", "+")).map(([, f]) => JSON.parse(f[1] ?? "{}") as LogLine);
  assert.is(run.length, 11);
  const marker = run[10];
  assert.is(marker?.stream, "agent");
  assert.is(marker?.board, "a");
  assert.is(marker?.seq, 6);
  assert.match(marker?.text ?? "", /run log truncated: the run stored 10 lines, its cap; a from seq 6 on is only in the board log \(hil logs --board a --since 5\)/);
  assert.is(shipper.failedBatches, 0);
});

test("redis-server stopped and started again on its port: lines appended meanwhile all arrive, once and in order", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hil-shipper-"));
  let own = await startPrivateRedis({ dir, persist: true });
  // the agent's own connection settings: a command gives up after 3 reconnect attempts
  const conn = new Redis(own.url, { maxRetriesPerRequest: 3 });
  conn.on("error", () => {});
  const check = new Redis(own.url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  check.on("error", () => {});
  try {
    const keys = labKeys(`t${randomUUID().slice(0, 8)}`);
    const shipper = new LogShipper(conn, keys, undefined, undefined, { spillFile: join(dir, "spool.jsonl") });
    await shipper.init(["a"]);
    let seq = 0;
    const burst = async (n: number) => {
      for (let i = 0; i < n; i++) shipper.append(line("a", ++seq, "r1"));
      await new Promise((r) => setImmediate(r));
    };
    for (let i = 0; i < 10; i++) await burst(20);
    await shipper.flush();
    await own.stop();
    // lines keep coming while Redis is gone, long enough for the client to give up on what it holds
    for (let i = 0; i < 30; i++) {
      await burst(100);
      await new Promise((r) => setTimeout(r, 50));
    }
    own = await startPrivateRedis({ dir, persist: true, port: own.port });
    for (let i = 0; i < 10; i++) await burst(20);
    assert.ok(await shipper.flush(60_000), "every line is in Redis once it is back");
    const expected = Array.from({ length: seq }, (_, i) => i + 1);
    await check.connect();
    const board = (await check.xrange(keys.boardLog("a"), "-", "+")).map(([, f]) => (JSON.parse(f[1] ?? "{}") as LogLine).seq);
    const run = (await check.xrange(keys.runLog("r1"), "-", "+")).map(([, f]) => (JSON.parse(f[1] ?? "{}") as LogLine).seq);
    assert.equal(board, expected);
    assert.equal(run, expected);
    assert.is(shipper.failedBatches, 0);
  } finally {
    conn.disconnect();
    check.disconnect();
    await own.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("redis-server frozen (SIGSTOP): lines past the memory bound spill to a file and all arrive, once and in order, after SIGCONT", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hil-shipper-"));
  const own = await startPrivateRedis();
  const conn = new Redis(own.url, { maxRetriesPerRequest: 3 });
  conn.on("error", () => {});
  const spill = join(dir, "spool.jsonl");
  try {
    const keys = labKeys(`t${randomUUID().slice(0, 8)}`);
    const shipper = new LogShipper(conn, keys, undefined, undefined, { maxBufferedLines: 1000, spillFile: spill });
    await shipper.init(["a", "b"]);
    shipper.append(line("a", 1, "r1"));
    await shipper.flush();
    process.kill(own.pid, "SIGSTOP");
    let spilled = false;
    try {
      let seq = 1;
      for (let burst = 0; burst < 40; burst++) {
        for (let i = 0; i < 200; i++) {
          seq++;
          shipper.append(line("a", seq, "r1"));
          shipper.append(line("b", seq, "r1"));
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      spilled = existsSync(spill);
    } finally {
      process.kill(own.pid, "SIGCONT");
    }
    assert.ok(spilled, "lines past the memory bound went to the spill file");
    assert.ok(await shipper.flush(60_000));
    const expected = Array.from({ length: 8001 }, (_, i) => i + 1);
    assert.equal(await seqsOf(conn, keys.boardLog("a")), expected);
    assert.equal(await seqsOf(conn, keys.boardLog("b")), expected.slice(1));
    const run = (await conn.xrange(keys.runLog("r1"), "-", "+")).map(([, f]) => JSON.parse(f[1] ?? "{}") as LogLine);
    assert.is(run.length, 8001 + 8000);
    for (const b of ["a", "b"]) {
      const seqs = run.filter((l) => l.board === b).map((l) => l.seq);
      assert.equal(seqs, b === "a" ? expected : expected.slice(1), `board ${b} in the run stream`);
    }
    assert.not.ok(existsSync(spill), "the spill file goes once it is read back");
    assert.is(shipper.failedBatches, 0);
  } finally {
    try {
      process.kill(own.pid, "SIGCONT");
    } catch {
      // gone
    }
    conn.disconnect();
    await own.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

async function seqsOf(client: Redis, key: string): Promise<number[]> {
  return (await client.xrange(key, "-", "+")).map(([, f]) => (JSON.parse(f[1] ?? "{}") as LogLine).seq);
}

test.run();
