// GET /api/v1/runs/:id/log on a real Redis: a malformed entry in the run's log stream or log.jsonl is skipped
// (and logged once) instead of failing the whole read; pages of a long log by cursor, backwards and forwards,
// from the Redis stream and, once it has expired, from log.jsonl; the whole-log answers stay as they were.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { LogLine, Run } from "@hil/contracts";
import { makeTempDir, waitUntil } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { asError, asRun, freshNamespace, startScheduler, type Running } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
let s: Running;
let agent: FakeAgent;
/** What the scheduler logged at warn or above, one parsed pino record each. */
let warnings: { msg: string; run?: string; skipped?: number }[];

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-run-log-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});
test.before.each(async () => {
  const ns = freshNamespace();
  warnings = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) warnings.push(JSON.parse(l) as (typeof warnings)[number]);
      done();
    },
  });
  s = await startScheduler(redis.url, ns, join(tmp.dir, ns), {}, { logger: pino({ level: "warn" }, sink) });
  agent = new FakeAgent(redis.url, ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }]);
  await agent.register(false);
});
test.after.each(async () => {
  await agent?.stop();
  await s?.svc.stop();
});

async function newRun(): Promise<Run> {
  const r = await s.api("/api/v1/runs", { body: { suite: "smoke" } });
  assert.is(r.status, 201, r.text);
  return asRun(r);
}

function line(runId: string, seq: number): LogLine {
  return { board: "dk1", run: runId, seq, mono: seq, wall: 1_700_000_000_000 + seq, stream: "serial", text: `line ${seq}` };
}

/** Appends lines 1..n (or the given raw JSON strings) to the run's log stream; returns the stream ids. */
async function xadd(runId: string, entries: (LogLine | string)[]): Promise<string[]> {
  const { redis: r, keys } = s.svc.context;
  const out: string[] = [];
  for (let i = 0; i < entries.length; i += 5000) {
    const pipe = r.pipeline();
    for (const e of entries.slice(i, i + 5000)) pipe.xadd(keys.runLog(runId), "*", "json", typeof e === "string" ? e : JSON.stringify(e));
    const res = (await pipe.exec()) ?? [];
    out.push(...res.map(([, id]) => String(id)));
  }
  return out;
}

const lines = (runId: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => line(runId, from + i));

interface Page {
  lines: { cursor: string; line: LogLine }[];
  before?: string;
  after?: string;
}

async function page(runId: string, query: string): Promise<Page> {
  const r = await s.api(`/api/v1/runs/${runId}/log?format=json&${query}`);
  assert.is(r.status, 200, `${query}: ${r.text}`);
  return r.json as Page;
}

const seqs = (p: Page) => p.lines.map((l) => l.line.seq);

test("a malformed entry in the run's log stream is skipped, not a 5xx, and logged once", async () => {
  const run = await newRun();
  await xadd(run.id, [line(run.id, 1), "{not json", JSON.stringify({ text: "not a LogLine" }), line(run.id, 2), "]]"]);
  await s.svc.context.redis.xadd(s.svc.context.keys.runLog(run.id), "*", "other", "no json field");
  const json = await s.api(`/api/v1/runs/${run.id}/log?format=json`);
  assert.is(json.status, 200, json.text);
  assert.equal((json.json as LogLine[]).map((l) => l.text), ["line 1", "line 2"]);
  const text = await s.api(`/api/v1/runs/${run.id}/log`);
  assert.is(text.status, 200, text.text);
  assert.is(text.text, "line 1\nline 2\n");
  const paged = await page(run.id, "limit=10");
  assert.equal(seqs(paged), [1, 2]);
  const mine = warnings.filter((w) => w.run === run.id);
  assert.is(mine.length, 3, "one warning per read");
  assert.ok(mine.every((w) => w.skipped === 4), JSON.stringify(mine));

  // the run's end still writes its log files (the same read used to throw: no files at all)
  assert.is((await s.api(`/api/v1/runs/${run.id}/cancel`, { body: {} })).status, 200);
  const file = join(s.svc.context.artifacts.runDir(run.id), "log.txt");
  assert.is(await waitUntil("the run's log.txt", () => readFile(file, "utf8").catch(() => undefined)), "line 1\nline 2\n");
});

test("a malformed line in log.jsonl is skipped, not a 5xx", async () => {
  const run = await newRun();
  const dir = s.svc.context.artifacts.runDir(run.id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "log.jsonl"), [JSON.stringify(line(run.id, 1)), "garbage", JSON.stringify(line(run.id, 2)), ""].join("\n"));
  const json = await s.api(`/api/v1/runs/${run.id}/log?format=json`);
  assert.is(json.status, 200, json.text);
  assert.equal((json.json as LogLine[]).map((l) => l.seq), [1, 2]);
  assert.is((await s.api(`/api/v1/runs/${run.id}/log`)).text, "line 1\nline 2\n");
  assert.ok(warnings.some((w) => w.run === run.id && w.skipped === 1));
});

/** Reads the whole log page by page: backwards from the newest line, or forwards from `after`. */
async function walk(runId: string, dir: "back" | "forward", limit: number, after = "0-0"): Promise<{ entries: Page["lines"]; pages: number; last: Page }> {
  const entries: Page["lines"] = [];
  let cursor: string | undefined = dir === "forward" ? after : undefined;
  for (let pages = 1; ; pages++) {
    const q: string = dir === "back" ? `limit=${limit}${cursor ? `&before=${cursor}` : ""}` : `limit=${limit}&after=${cursor}`;
    const p = await page(runId, q);
    if (dir === "back") {
      entries.unshift(...p.lines);
      if (p.before === undefined) return { entries, pages, last: p };
      assert.is(p.before, p.lines[0]?.cursor, "before is the first line's cursor");
      cursor = p.before;
    } else {
      entries.push(...p.lines);
      assert.ok(p.after, "a forward page always says where to go on");
      // a page may hold fewer lines than asked (a malformed entry is skipped): the end is where the cursor stays
      if (p.after === cursor) return { entries, pages, last: p };
      cursor = p.after;
    }
  }
}

test("pages of the log stream: the newest lines, then backwards by cursor, and forwards", async () => {
  const run = await newRun();
  const ids = await xadd(run.id, lines(run.id, 1, 12_345));
  const tail = await page(run.id, "limit=5");
  assert.equal(seqs(tail), [12_341, 12_342, 12_343, 12_344, 12_345]);
  assert.equal(tail.lines.map((l) => l.cursor), ids.slice(-5));
  assert.is(tail.before, ids[12_340]);
  assert.is(tail.after, undefined);
  // default page size
  assert.is((await page(run.id, `before=${ids[5000]}`)).lines.length, 1000);

  const back = await walk(run.id, "back", 5000);
  assert.is(back.pages, 3);
  assert.equal(back.entries.map((e) => e.line.seq), Array.from({ length: 12_345 }, (_, i) => i + 1));
  assert.equal(back.entries.map((e) => e.cursor), ids);

  const forward = await walk(run.id, "forward", 5000);
  assert.equal(forward.entries.map((e) => e.cursor), ids);
  assert.is(forward.last.after, ids[ids.length - 1]);
  assert.is(forward.last.before, undefined);

  // the first line has nothing before it; an empty forward page keeps the cursor it was given
  assert.equal(await page(run.id, `before=${ids[0]}`), { lines: [] });
  assert.equal(await page(run.id, "before=0-0"), { lines: [] });
  const atEnd = await page(run.id, `after=${ids[ids.length - 1]}`);
  assert.equal(atEnd, { lines: [], after: ids[ids.length - 1] });

  // a live run: lines written after the last page arrive on the next forward read
  const more = await xadd(run.id, lines(run.id, 12_346, 12_347));
  const next = await page(run.id, `after=${atEnd.after}`);
  assert.equal(seqs(next), [12_346, 12_347]);
  assert.is(next.after, more[1]);

  // without before/after/limit the answers are what they were: the whole log
  const whole = await s.api(`/api/v1/runs/${run.id}/log?format=json`);
  assert.is((whole.json as LogLine[]).length, 12_347);
  const text = await s.api(`/api/v1/runs/${run.id}/log`);
  assert.is(text.text.split("\n").length, 12_348);
});

test("once the stream has expired, pages come from log.jsonl with cursors 0-<line number>", async () => {
  const run = await newRun();
  const dir = s.svc.context.artifacts.runDir(run.id);
  await mkdir(dir, { recursive: true });
  const n = 200_000;
  const text = lines(run.id, 1, n).map((l) => JSON.stringify(l));
  text[99_999] = "not json";
  await writeFile(join(dir, "log.jsonl"), text.join("\n") + "\n");

  const tail = await page(run.id, "limit=3");
  assert.equal(tail.lines, lines(run.id, n - 2, n).map((line, i) => ({ cursor: `0-${n - 2 + i}`, line })));
  assert.is(tail.before, `0-${n - 2}`);
  // a page in the middle, around the malformed line 100,000
  const mid = await page(run.id, "before=0-100002&limit=4");
  assert.equal(seqs(mid), [99_998, 99_999, 100_001]);
  assert.is(mid.before, "0-99998");
  assert.ok(warnings.some((w) => w.run === run.id && w.skipped === 1));
  const fwd = await page(run.id, "after=0-99998&limit=3");
  assert.equal(fwd.lines.map((l) => l.cursor), ["0-99999", "0-100001"]);
  assert.is(fwd.after, "0-100001");
  assert.equal(await page(run.id, `after=0-${n}`), { lines: [], after: `0-${n}` });
  const first = await page(run.id, "before=0-3&limit=10");
  assert.equal(seqs(first), [1, 2]);
  assert.is(first.before, undefined);

  const back = await walk(run.id, "back", 5000);
  assert.is(back.pages, 40);
  assert.is(back.entries.length, n - 1);
  assert.ok(back.entries.every((e, i) => e.line.seq === (i < 99_999 ? i + 1 : i + 2) && e.cursor === `0-${e.line.seq}`));
  const forward = await walk(run.id, "forward", 5000);
  assert.equal(forward.entries.map((e) => e.cursor), back.entries.map((e) => e.cursor));
});

test("a run's stream wins over its file while both exist; an empty log is an empty page", async () => {
  const run = await newRun();
  assert.equal(await page(run.id, "limit=10"), { lines: [] });
  assert.equal(await page(run.id, "after=0-0"), { lines: [], after: "0-0" });
  const ids = await xadd(run.id, lines(run.id, 1, 3));
  const dir = s.svc.context.artifacts.runDir(run.id);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "log.jsonl"), lines(run.id, 1, 3).map((l) => JSON.stringify(l)).join("\n") + "\n");
  assert.equal((await page(run.id, "limit=10")).lines.map((l) => l.cursor), ids);
  await s.svc.context.redis.del(s.svc.context.keys.runLog(run.id));
  assert.equal((await page(run.id, "limit=10")).lines.map((l) => l.cursor), ["0-1", "0-2", "0-3"]);
  // a log file left empty
  await writeFile(join(dir, "log.jsonl"), "");
  assert.equal(await page(run.id, "limit=10"), { lines: [] });
});

test("bad page requests are 400 naming the field", async () => {
  const run = await newRun();
  const cases: [string, string][] = [
    ["format=json&limit=0", "query.limit"],
    ["format=json&limit=5001", "query.limit"],
    ["format=json&limit=ten", "query.limit"],
    ["format=json&before=abc", "query.before"],
    ["format=json&before=(1-0", "query.before"],
    ["format=json&after=1", "query.after"],
    [`format=json&after=${"9".repeat(16)}-0`, "query.after"],
    ["format=json&before=1-0&after=1-0", "query.after"],
    ["limit=10", "query.format"],
    ["format=text&before=1-0", "query.format"],
  ];
  for (const [query, path] of cases) {
    const r = await s.api(`/api/v1/runs/${run.id}/log?${query}`);
    assert.is(r.status, 400, query);
    assert.ok(asError(r).issues?.some((i) => i.path === path), `${query}: ${r.text}`);
  }
  assert.is((await s.api("/api/v1/runs/nope/log?format=json&limit=5")).status, 404);
});

test.run();
