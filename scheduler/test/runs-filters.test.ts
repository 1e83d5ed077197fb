// GET /api/v1/runs filtered by commit prefix and creation time, on a real Redis: the filters combine with the
// others and with paging (every matching run once, newest first), bad values are 400 naming the field, and a
// rare match far down the list is still reached by following nextCursor.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Run } from "@hil/contracts";
import { makeTempDir } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { ALICE, asError, asRun, type Running } from "./support/harness.js";
import { schedulerWithOfflineBoard } from "./support/offline-board.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
let s: Running;
const cleanups: (() => Promise<void>)[] = [];

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-runs-filters-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});
// board dk1's agent is not running: its board exists (offline), so runs stay queued
test.before.each(async () => {
  s = await schedulerWithOfflineBoard(redis.url, tmp.dir, cleanups);
});
test.after.each(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

interface Page {
  runs: Run[];
  nextCursor?: string;
}

/** Submits runs in order, each in its own millisecond, and returns them oldest first. */
async function submit(commits: (string | undefined)[], token?: string): Promise<Run[]> {
  const out: Run[] = [];
  for (const commit of commits) {
    const r = await s.api("/api/v1/runs", { body: { suite: "smoke", ...(commit !== undefined ? { ci: { commit } } : {}) }, ...(token ? { token } : {}) });
    assert.is(r.status, 201, r.text);
    out.push(asRun(r));
    await new Promise((res) => setTimeout(res, 3));
  }
  return out;
}

/** Follows nextCursor to the end; returns every run seen and the number of pages. */
async function allPages(query: string): Promise<{ runs: Run[]; pages: number }> {
  const runs: Run[] = [];
  let cursor: string | undefined;
  for (let pages = 1; pages < 1000; pages++) {
    const r = await s.api(`/api/v1/runs?${query}${cursor ? `&cursor=${cursor}` : ""}`);
    assert.is(r.status, 200, r.text);
    const page = r.json as Page;
    runs.push(...page.runs);
    if (page.nextCursor === undefined) return { runs, pages };
    cursor = page.nextCursor;
  }
  throw new Error("paging never ended");
}

const ids = (runs: Run[]) => runs.map((r) => r.id);

test("commit filters by prefix, case-insensitively, and pages without loss or repeat", async () => {
  const runs = await submit(["ABCdef1", "abcdef2", "abc999", "fff000", undefined, "ABCDEF3"]);
  const [r1, r2, r3, , , r6] = runs as [Run, Run, Run, Run, Run, Run];
  const page = (await s.api("/api/v1/runs?commit=abcDEF")).json as Page;
  assert.equal(ids(page.runs), ids([r6, r2, r1]), "newest first, case ignored on both sides");
  assert.is(page.nextCursor, undefined);
  assert.equal(ids(((await s.api("/api/v1/runs?commit=abc")).json as Page).runs), ids([r6, r3, r2, r1]));
  assert.equal(((await s.api("/api/v1/runs?commit=abcdef1x")).json as Page).runs, []);
  // a prefix, not a substring
  assert.equal(((await s.api("/api/v1/runs?commit=def")).json as Page).runs, []);

  const paged = await allPages("commit=ABCDEF&limit=1");
  assert.equal(ids(paged.runs), ids([r6, r2, r1]));
  assert.ok(paged.pages >= 3);
});

test("commit combines with submitter and state", async () => {
  const mine = await submit(["cafe01", "cafe02"], ALICE);
  await submit(["cafe03"]);
  const r = (await s.api("/api/v1/runs?commit=CAFE&submitter=alice")).json as Page;
  assert.equal(ids(r.runs), ids([...mine].reverse()));
  assert.equal(((await s.api("/api/v1/runs?commit=cafe&state=passed")).json as Page).runs, []);
  assert.is(((await s.api("/api/v1/runs?commit=cafe&state=queued")).json as Page).runs.length, 3);
});

test("after and before bound createdAt (exclusive), as epoch ms or ISO datetime, and page", async () => {
  const runs = await submit(["c0", "c1", "c2", "c3", "c4", "c5"]);
  const at = runs.map((r) => r.createdAt);
  const between = (await s.api(`/api/v1/runs?after=${at[1]}&before=${at[4]}`)).json as Page;
  assert.equal(ids(between.runs), ids([runs[3], runs[2]] as Run[]));
  const iso = (ms: number | undefined) => encodeURIComponent(new Date(ms ?? 0).toISOString());
  const byIso = (await s.api(`/api/v1/runs?after=${iso(at[1])}&before=${iso(at[4])}`)).json as Page;
  assert.equal(ids(byIso.runs), ids(between.runs));
  // an offset other than Z names the same instant
  const plusTwo = encodeURIComponent(new Date((at[1] ?? 0) + 2 * 3600_000).toISOString().replace("Z", "+02:00"));
  assert.equal(ids(((await s.api(`/api/v1/runs?after=${plusTwo}&before=${at[4]}`)).json as Page).runs), ids(between.runs));

  assert.equal(ids(((await s.api(`/api/v1/runs?after=${at[3]}`)).json as Page).runs), ids([runs[5], runs[4]] as Run[]));
  assert.equal(ids(((await s.api(`/api/v1/runs?before=${at[1]}`)).json as Page).runs), ids([runs[0]] as Run[]));
  assert.equal(((await s.api(`/api/v1/runs?after=${at[4]}&before=${at[2]}`)).json as Page).runs, []);

  const paged = await allPages(`after=${at[0]}&before=${at[5]}&limit=2&commit=C`);
  assert.equal(ids(paged.runs), ids([runs[4], runs[3], runs[2], runs[1]] as Run[]));
  // a cursor from an unfiltered page keeps the time bounds
  const first = (await s.api("/api/v1/runs?limit=1")).json as Page;
  const rest = (await s.api(`/api/v1/runs?limit=10&before=${at[3]}&cursor=${first.nextCursor}`)).json as Page;
  assert.equal(ids(rest.runs), ids([runs[2], runs[1], runs[0]] as Run[]));
});

test("bad filter values are 400 naming the field", async () => {
  const cases: [string, string][] = [
    ["commit=", "query.commit"],
    [`commit=${"a".repeat(129)}`, "query.commit"],
    ["after=yesterday", "query.after"],
    ["after=-5", "query.after"],
    ["before=2026-13-01T00:00:00Z", "query.before"],
    ["before=1e12", "query.before"],
    ["before=2026-05-01", "query.before"],
    [`after=${"9".repeat(16)}`, "query.after"],
  ];
  for (const [query, path] of cases) {
    const r = await s.api(`/api/v1/runs?${query}`);
    assert.is(r.status, 400, query);
    assert.ok(asError(r).issues?.some((i) => i.path === path), `${query}: ${r.text}`);
  }
});

test("a rare match far below the scan budget is reached by following nextCursor", async () => {
  const [old] = await submit(["deadbeef"]);
  if (!old) throw new Error("no run");
  // 21,000 newer runs that do not match, written straight into the run index (the API would take minutes)
  const { redis: r, keys } = s.svc.context;
  for (let batch = 0; batch < 21; batch++) {
    const pipe = r.pipeline();
    for (let i = 0; i < 1000; i++) {
      const n = batch * 1000 + i;
      const run: Run = { ...old, id: `filler-${n}`, createdAt: old.createdAt + 1 + n, request: { ...old.request, ci: { commit: "0000" } } };
      pipe.hset(keys.run(run.id), { json: JSON.stringify(run), ver: "1" });
      pipe.zadd(keys.runs(), run.createdAt, run.id);
    }
    await pipe.exec();
  }
  const first = (await s.api("/api/v1/runs?commit=dead")).json as Page;
  assert.equal(first.runs, [], "the first page stops at the scan budget");
  assert.ok(first.nextCursor, "but says where to go on");
  const all = await allPages("commit=dead");
  assert.equal(ids(all.runs), [old.id]);
  // a time bound lets Redis skip the filler altogether
  assert.equal(ids(((await s.api(`/api/v1/runs?commit=dead&before=${old.createdAt + 1}`)).json as Page).runs), [old.id]);
});

test("OpenAPI documents the new query parameters", async () => {
  const doc = (await s.api("/api/v1/openapi.json")).json as { paths: Record<string, { get?: { parameters?: { name: string; schema: { description?: string } }[] } }> };
  const params = doc.paths["/api/v1/runs"]?.get?.parameters ?? [];
  for (const name of ["commit", "after", "before", "limit", "cursor"]) assert.ok(params.some((p) => p.name === name), `missing ${name}`);
  assert.match(params.find((p) => p.name === "after")?.schema.description ?? "", /ISO/);
  const log = doc.paths["/api/v1/runs/{id}/log"]?.get?.parameters ?? [];
  for (const name of ["format", "before", "after", "limit"]) assert.ok(log.some((p) => p.name === name), `log: missing ${name}`);
});

test.run();
