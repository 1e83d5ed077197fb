// Live board logs over Server-Sent Events from a real Redis stream: `since` and Last-Event-ID resume
// with no gap and no duplicate, follow delivers lines written after the request.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import type { LogLine } from "@hil/contracts";
import { makeTempDir, waitUntil } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { ADMIN, freshNamespace, startScheduler, type Running } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
let s: Running;
let agent: FakeAgent;

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-log-");
  const ns = freshNamespace();
  s = await startScheduler(redis.url, ns, join(tmp.dir, ns));
  agent = new FakeAgent(redis.url, ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }]);
  await agent.register();
});
test.after(async () => {
  await agent?.stop();
  await s?.svc.stop();
  await redis?.stop();
  await tmp?.remove();
});

async function writeLines(from: number, to: number): Promise<void> {
  const { redis: r, keys } = s.svc.context;
  const pipe = r.pipeline();
  for (let seq = from; seq <= to; seq++) {
    const line: LogLine = { board: "dk1", run: null, seq, mono: seq, wall: Date.now(), stream: "serial", text: `line ${seq}` };
    pipe.xadd(keys.boardLog("dk1"), "MAXLEN", "~", "20000", `${seq}-0`, "json", JSON.stringify(line));
  }
  await pipe.exec();
}

/** Reads SSE events until `want` events arrived (or the stream ended), then stops. */
async function readEvents(path: string, want: number, headers: Record<string, string> = {}, onOpen?: () => Promise<void>): Promise<{ id: number; line: LogLine }[]> {
  const ctl = new AbortController();
  const res = await fetch(s.url + path, { headers: { authorization: `Bearer ${ADMIN}`, ...headers }, signal: ctl.signal });
  assert.is(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
  const reader = res.body?.getReader();
  if (!reader) throw new Error("no body");
  const out: { id: number; line: LogLine }[] = [];
  const timer = setTimeout(() => ctl.abort(), 20_000);
  let buf = "";
  let opened = false;
  try {
    while (out.length < want) {
      if (!opened && onOpen) {
        opened = true;
        await onOpen();
      }
      const { value, done } = await reader.read();
      if (done) break;
      buf += Buffer.from(value).toString("utf8");
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const id = /^id: (\d+)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (id !== undefined && data !== undefined) out.push({ id: Number(id), line: JSON.parse(data) as LogLine });
      }
    }
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return out;
}

test("without follow: the lines after `since`, then the stream ends", async () => {
  await writeLines(1, 50);
  const got = await readEvents("/api/v1/boards/dk1/log?since=20", 1000);
  assert.equal(got.map((e) => e.id), Array.from({ length: 30 }, (_, i) => 21 + i));
  assert.is(got[0]?.line.text, "line 21");
  const all = await readEvents("/api/v1/boards/dk1/log", 1000);
  assert.is(all.length, 50);
});

test("follow delivers new lines; a reconnect with Last-Event-ID resumes with no gap and no duplicate", async () => {
  const first = await readEvents("/api/v1/boards/dk1/log?follow=1&since=50", 10, {}, () => writeLines(51, 60));
  assert.equal(first.map((e) => e.id), [51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
  // the client saw up to 55 only (say), and reconnects
  const again = await readEvents("/api/v1/boards/dk1/log?follow=1&since=0", 6, { "last-event-id": "55" }, () => writeLines(61, 61));
  assert.equal(again.map((e) => e.id), [56, 57, 58, 59, 60, 61]);
});

test("lines the stream's cap trimmed come from the board's archive to a reader resuming below the stream: once and in order", async () => {
  const { redis: r, keys } = s.svc.context;
  await writeLines(62, 300);
  // the reaper copies the stream to the board's day files every couple of seconds
  await waitUntil("the archive to reach line 300", async () => (await r.hget(keys.boardLogArchived(), "dk1")) === "300-0" || undefined, 30_000, 100);
  await r.xtrim(keys.boardLog("dk1"), "MAXLEN", 20); // what the agent's cap does to a busy board
  await writeLines(301, 310);
  const resumed = await readEvents("/api/v1/boards/dk1/log?since=100", 1000);
  assert.equal(
    resumed.map((e) => e.id),
    Array.from({ length: 210 }, (_, i) => 101 + i),
    "101–280 from the archive, 281–310 from the stream (before: only 281–310)",
  );
  assert.is(resumed[0]?.line.text, "line 101");
  // without a cursor: the stream as it is (the dashboard's tail)
  const tail = await readEvents("/api/v1/boards/dk1/log", 1000);
  assert.equal(tail.map((e) => e.id), Array.from({ length: 30 }, (_, i) => 281 + i));
  // from the very start: everything archived, then the stream
  const all = await readEvents("/api/v1/boards/dk1/log?since=0", 1000);
  assert.is(all.length, 310);
  assert.equal(new Set(all.map((e) => e.id)).size, 310);
});

test("unknown board: 404; bad since: 400", async () => {
  const r = await fetch(`${s.url}/api/v1/boards/nope/log`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.is(r.status, 404);
  const b = await fetch(`${s.url}/api/v1/boards/dk1/log?since=abc`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.is(b.status, 400);
});

test.run();
