// Hostile input on the HTTP API and the agents' event stream, on a real Redis and the real scheduler:
// every bad number, header or body is a 4xx naming what is wrong, never a 5xx; uploads are capped;
// one bad stored record or stream entry does not break the service for everybody else.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { request } from "node:http";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { Redis } from "ioredis";
import { labKeys, type LogLine } from "@hil/contracts";
import { makeTempDir, sleep, waitUntil } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { ADMIN, asBooking, asError, asRun, freshNamespace, readResponse, startScheduler, type ApiResponse } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";
import { schedulerWithOfflineBoard } from "./support/offline-board.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
const cleanups: (() => Promise<void>)[] = [];

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-hostile-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});
test.after.each(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const DAY = 86_400_000;
const auth = { authorization: `Bearer ${ADMIN}` };

const setup = (extra: Record<string, string> = {}, ns?: string) => schedulerWithOfflineBoard(redis.url, tmp.dir, cleanups, extra, ns);

const pathsOf = (r: ApiResponse) => (asError(r).issues ?? []).map((i) => i.path);

function assertBad(r: ApiResponse, path: string, what: string): void {
  assert.is(r.status, 400, `${what}: ${r.text}`);
  assert.ok(pathsOf(r).includes(path), `${what}: expected an issue at ${path}, got ${r.text}`);
}

/** Every file under a directory (recursively), as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

async function send(url: string, init: RequestInit & { duplex?: "half" }): Promise<ApiResponse> {
  return readResponse(await fetch(url, init));
}

test("a booking of 1e20 ms or past HIL_BOOKING_MAX is 400 naming the field; extending past it too", async () => {
  const s = await setup();
  const now = Date.now();
  assertBad(await s.api("/api/v1/bookings", { body: { board: "dk1", duration: 1e20 } }), "duration", "duration 1e20");
  assertBad(await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "99999999999999999999h" } }), "duration", "duration 1e20 h");
  assertBad(await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "8d" } }), "duration", "8 days (default max 7)");
  assertBad(await s.api("/api/v1/bookings", { body: { board: "dk1", end: now + 8 * DAY } }), "end", "end 8 days ahead");
  assertBad(await s.api("/api/v1/bookings", { body: { board: "dk1", end: "9999-12-31T00:00:00Z" } }), "end", "end in 9999");
  assertBad(await s.api("/api/v1/bookings", { body: { board: "dk1", start: now + 2 * 365 * DAY, duration: "1h" } }), "start", "start 2 years ahead");
  assertBad(await s.api("/api/v1/bookings", { body: { board: "dk1", start: 1e30, duration: "1h" } }), "start", "start 1e30");
  assertBad(await s.api("/api/v1/bookings", { body: { board: "dk1", duration: -5 } }), "duration", "negative duration");
  // what GET /bookings answered 500 for, for everybody: nothing of it was stored
  const list = await s.api("/api/v1/bookings");
  assert.is(list.status, 200, list.text);
  assert.equal((list.json as { bookings: unknown[] }).bookings, []);

  const ok = await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1d" } });
  assert.is(ok.status, 201, ok.text);
  const b = asBooking(ok);
  assertBad(await s.api(`/api/v1/bookings/${b.id}/extend`, { body: { duration: "7d" } }), "duration", "extend to 8 days");
  assertBad(await s.api(`/api/v1/bookings/${b.id}/extend`, { body: { duration: 1e20 } }), "duration", "extend by 1e20");
  assertBad(await s.api(`/api/v1/bookings/${b.id}/extend`, { body: { end: b.start + 7 * DAY + 1 } }), "end", "extend past the max");
  assertBad(await s.api(`/api/v1/bookings/${b.id}/extend`, { body: { end: 1e300 } }), "end", "extend to 1e300");
  const longer = await s.api(`/api/v1/bookings/${b.id}/extend`, { body: { duration: "1h" } });
  assert.is(longer.status, 200, longer.text);
  assert.is(asBooking(longer).end, b.end + 3_600_000);
  assert.is((await s.api(`/api/v1/bookings/${b.id}/release`, { method: "POST" })).status, 200);
});

test("HIL_BOOKING_MAX is configurable; unsafe numbers in run bodies and queries are 400 naming the field", async () => {
  const s = await setup({ HIL_BOOKING_MAX: "2h" });
  const r = await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "3h" } });
  assertBad(r, "duration", "3h with a 2h max");
  assert.match(asError(r).issues?.[0]?.message ?? "", /2h \(HIL_BOOKING_MAX\)/);
  assert.is((await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "2h" } })).status, 201);

  const run = (extra: Record<string, unknown>) => s.api("/api/v1/runs", { body: { suite: "smoke", ...extra } });
  assertBad(await run({ priority: 1e308 }), "priority", "priority 1e308");
  assertBad(await run({ priority: 2 ** 53 }), "priority", "priority 2^53");
  assertBad(await run({ timeoutSec: 1e20 }), "timeoutSec", "timeoutSec 1e20");
  assertBad(await run({ timeoutSec: 0.5 }), "timeoutSec", "timeoutSec 0.5");
  assertBad(await run({ maxAttempts: 1e9 }), "maxAttempts", "maxAttempts 1e9");
  assertBad(await run({ artifacts: { app: { sha256: "a".repeat(64), size: 1e20 } } }), "artifacts.app.size", "artifact size 1e20");
  assertBad(await s.api("/api/v1/runs?cursor=1e30"), "query.cursor", "cursor 1e30");
  assertBad(await s.api("/api/v1/runs?limit=1e9"), "query.limit", "limit 1e9");
});

test("a stored booking that does not parse is skipped: listing, booking and releasing still work", async () => {
  const s = await setup();
  const { redis: r, keys } = s.svc.context;
  // records as the old code could store them: an end past any safe integer, and plain garbage
  const now = Date.now();
  const huge = JSON.stringify({ id: "bk-huge", board: "dk1", holder: "admin", start: now, end: 1e20, state: "scheduled", createdAt: now });
  await r.multi().set(keys.booking("bk-huge"), huge).zadd(keys.boardBookings("dk1"), now, "bk-huge").zadd(keys.bookings(), 1e20, "bk-huge").exec();
  await r.multi().set(keys.booking("bk-junk"), "{not json").zadd(keys.boardBookings("dk1"), now, "bk-junk").zadd(keys.bookings(), now + DAY, "bk-junk").exec();

  const made = await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1h" } });
  assert.is(made.status, 201, made.text);
  const good = asBooking(made);
  const list = await s.api("/api/v1/bookings");
  assert.is(list.status, 200, list.text);
  assert.equal((list.json as { bookings: { id: string }[] }).bookings.map((b) => b.id), [good.id]);
  assert.is((await s.api("/api/v1/bookings?board=dk1")).status, 200);
  assert.is((await s.api("/api/v1/bookings/bk-junk")).status, 404);
  assert.is((await s.api("/api/v1/boards")).status, 200);
  assert.is((await s.api(`/api/v1/bookings/${good.id}/release`, { method: "POST" })).status, 200);
});

test("a run record that does not parse is skipped by the run list instead of failing it for everybody", async () => {
  const s = await setup();
  const { redis: r, keys } = s.svc.context;
  const good = asRun(await s.api("/api/v1/runs", { body: { suite: "smoke" } }));
  await r.multi().hset(keys.run("r-junk"), "json", "{not json").zadd(keys.runs(), Date.now() + 1, "r-junk").exec();
  const list = await s.api("/api/v1/runs");
  assert.is(list.status, 200, list.text);
  assert.equal((list.json as { runs: { id: string }[] }).runs.map((x) => x.id), [good.id]);
});

test("multipart without a boundary, truncated or garbage: 400 on artifacts and runs, nothing stored", async () => {
  const s = await setup();
  for (const path of ["/api/v1/artifacts", "/api/v1/runs"]) {
    const r = await send(s.url + path, { method: "POST", headers: { ...auth, "content-type": "multipart/form-data" }, body: "x" });
    assert.is(r.status, 400, `${path} without boundary: ${r.text}`);
    assert.match(asError(r).issues?.[0]?.message ?? "", /boundary/i);
  }
  const type = { ...auth, "content-type": "multipart/form-data; boundary=xyz" };
  const head = '--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n';
  const bodies = { truncated: head + "x".repeat(5000), garbage: "\u0000\u0001 this is not multipart at all", empty: "" };
  for (const path of ["/api/v1/artifacts", "/api/v1/runs"]) {
    for (const [what, body] of Object.entries(bodies)) {
      const r = await send(s.url + path, { method: "POST", headers: type, body });
      assert.is(r.status, 400, `${path} ${what}: ${r.text}`);
      assert.ok(asError(r).issues?.length, r.text);
    }
  }
  const run = '--xyz\r\nContent-Disposition: form-data; name="request"\r\n\r\n{"suite": nope}\r\n--xyz--\r\n';
  assertBad(await send(`${s.url}/api/v1/runs`, { method: "POST", headers: type, body: run }), "request", "request field not JSON");
  assert.equal(await filesUnder(join(s.dir, "sha256")), []);
  assert.equal(await filesUnder(join(s.dir, "tmp")), []);
});

/** Sends only headers declaring `length` bytes, then waits for the answer without sending a byte of body. */
function declareOnly(url: string, length: number, type: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "POST", headers: { ...auth, "content-type": type, "content-length": String(length) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on("error", reject);
    req.flushHeaders();
  });
}

/** A body sent chunked (no Content-Length), so only counting the bytes can find out it is too big. */
function chunked(bytes: Buffer): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(ctl) {
      if (sent >= bytes.length) return ctl.close();
      ctl.enqueue(bytes.subarray(sent, sent + 8192));
      sent += 8192;
    },
  });
}

test("uploads over HIL_UPLOAD_MAX are 413 and store nothing: declared, streamed, raw and multipart", async () => {
  const s = await setup({ HIL_UPLOAD_MAX: "64KiB" });
  const big = Buffer.alloc(200 * 1024, 7);
  const raw = { ...auth, "content-type": "application/octet-stream" };
  let r = await send(`${s.url}/api/v1/artifacts`, { method: "POST", headers: raw, body: big });
  assert.is(r.status, 413, `declared length: ${r.text}`);
  assert.match(asError(r).error, /HIL_UPLOAD_MAX/);
  // refused on the declared length alone, before a byte of the body
  assert.is(await declareOnly(`${s.url}/api/v1/artifacts`, 10 * 1024 ** 3, "application/octet-stream"), 413);
  assert.is(await declareOnly(`${s.url}/api/v1/runs`, 10 * 1024 ** 3, "multipart/form-data; boundary=xyz"), 413);
  r = await send(`${s.url}/api/v1/artifacts`, { method: "POST", headers: raw, body: chunked(big), duplex: "half" });
  assert.is(r.status, 413, `streamed raw: ${r.text}`);

  const part = (name: string, file?: string) =>
    `--xyz\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"` : ""}\r\n\r\n`;
  const multi = Buffer.concat([Buffer.from(part("request") + '{"suite":"needs-app"}\r\n' + part("app", "app.bin")), big, Buffer.from("\r\n--xyz--\r\n")]);
  const type = { ...auth, "content-type": "multipart/form-data; boundary=xyz" };
  r = await send(`${s.url}/api/v1/runs`, { method: "POST", headers: type, body: chunked(multi), duplex: "half" });
  assert.is(r.status, 413, `streamed multipart run: ${r.text}`);
  r = await send(`${s.url}/api/v1/artifacts`, { method: "POST", headers: type, body: chunked(multi), duplex: "half" });
  assert.is(r.status, 413, `streamed multipart artifact: ${r.text}`);
  assert.equal(await filesUnder(join(s.dir, "sha256")), [], "no truncated artifact kept");
  await waitUntil("temp files removed", async () => (await filesUnder(join(s.dir, "tmp"))).length === 0, 5000);
  assert.is(await s.svc.context.redis.zcard(s.svc.context.keys.runs()), 0);

  // under the cap all is as before, and the connection still serves the next request
  r = await send(`${s.url}/api/v1/artifacts`, { method: "POST", headers: raw, body: chunked(big.subarray(0, 60 * 1024)), duplex: "half" });
  assert.is(r.status, 201, r.text);
});

test("a bad Last-Event-ID or since is 400 naming it; a good one still resumes", async () => {
  const s = await setup();
  const { redis: r, keys } = s.svc.context;
  for (let seq = 1; seq <= 5; seq++) {
    const line: LogLine = { board: "dk1", run: null, seq, mono: seq, wall: Date.now(), stream: "serial", text: `line ${seq}` };
    await r.xadd(keys.boardLog("dk1"), `${seq}-0`, "json", JSON.stringify(line));
  }
  const log = (query: string, lastEventId?: string) =>
    send(`${s.url}/api/v1/boards/dk1/log${query}`, { headers: { ...auth, ...(lastEventId !== undefined ? { "last-event-id": lastEventId } : {}) } });
  for (const bad of ["abc", "-1", "1e30", "99999999999999999999", "9007199254740993", "3.5"]) {
    const res = await log("", bad);
    assert.is(res.status, 400, `Last-Event-ID ${bad}: ${res.text}`);
    assert.ok(pathsOf(res).some((p) => p.endsWith("Last-Event-ID")), res.text);
  }
  for (const bad of ["99999999999999999999", "1e30", "-1"]) assertBad(await log(`?since=${bad}`), "query.since", `since=${bad}`);
  const resumed = await log("", "3");
  assert.is(resumed.status, 200);
  assert.equal([...resumed.text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])), [4, 5]);
  const max = await log(`?since=${Number.MAX_SAFE_INTEGER}`);
  assert.is(max.status, 200);
  assert.not.match(max.text, /^id:/m);
});

test("a malformed agent event goes to the dead letters; the good ones of its batch are applied", async () => {
  const ns = freshNamespace();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const agent = new FakeAgent(redis.url, ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }], async () => {
    await gate;
    return { outcome: "pass" };
  });
  await agent.start();
  cleanups.push(() => agent.stop());
  const first = await startScheduler(redis.url, ns, join(tmp.dir, ns));
  let firstStopped = false;
  cleanups.push(async () => void (firstStopped || (await first.svc.stop())));
  const posted = await first.api("/api/v1/runs", { body: { suite: "smoke" } });
  assert.is(posted.status, 201, posted.text);
  const id = asRun(posted).id;
  await waitUntil("the run to start", async () => asRun(await first.api(`/api/v1/runs/${id}`)).state === "running");
  // with no scheduler reading, the garbage and the agent's report queue up and arrive in one batch
  await first.svc.stop();
  firstStopped = true;
  const r = connect();
  const keys = labKeys(ns);
  await r.xadd(keys.events(), "*", "json", "{not json");
  await r.xadd(keys.events(), "*", "json", JSON.stringify({ type: "job-started", runId: id }));
  await r.xadd(keys.events(), "*", "other", "field");
  const before = await r.xlen(keys.events());
  open();
  await waitUntil("the agent's report", async () => (await r.xlen(keys.events())) > before);

  const s = await startScheduler(redis.url, ns, join(tmp.dir, ns));
  cleanups.push(() => s.svc.stop());
  const passed = await waitUntil("the run to pass", async () => {
    const run = asRun(await s.api(`/api/v1/runs/${id}`));
    return run.state === "passed" && run;
  });
  // applied from the agent's own report: not a second attempt after the reaper gave the first one up
  assert.is(passed.attempts.length, 1, JSON.stringify(passed.attempts));
  const dead = await waitUntil("three dead letters", async () => {
    const rows = await r.xrange(keys.deadLetters(), "-", "+");
    return rows.length === 3 ? rows : undefined;
  });
  const reasons = dead.map(([, f]) => f[f.indexOf("reason") + 1] ?? "");
  assert.match(reasons[0] ?? "", /not JSON/);
  assert.match(reasons[1] ?? "", /does not match the contract/);
  assert.match(reasons[2] ?? "", /no json field/);
  assert.is(dead[0]?.[1][dead[0][1].indexOf("json") + 1], "{not json");
  await waitUntil("nothing left pending", async () => Number(((await r.xpending(keys.events(), "schedulers")) as [number])[0]) === 0);
});

test("an event whose handler keeps failing goes to the dead letters after 5 deliveries, not before", async () => {
  const ns = freshNamespace();
  const r = connect();
  const keys = labKeys(ns);
  // a run whose stored record is broken: every attempt to apply an event to it throws
  for (const run of ["r-poison-a", "r-poison-b"]) await r.hset(keys.run(run), "json", "{broken", "ver", "1");
  await r.xgroup("CREATE", keys.events(), "schedulers", "0", "MKSTREAM");
  const result = { index: 0, type: "send", name: "send", outcome: "pass", startedAt: Date.now(), durationMs: 1 };
  const step = (runId: string) => JSON.stringify({ type: "step-finished", runId, attempt: 1, agent: "bench1", leaseHash: "0".repeat(40), step: result });
  const worn = (await r.xadd(keys.events(), "*", "json", step("r-poison-a"))) ?? "";
  const fresh = (await r.xadd(keys.events(), "*", "json", step("r-poison-b"))) ?? "";
  // a replica that read them and died: one entry already delivered 4 times, both idle long enough to be claimed
  await r.xreadgroup("GROUP", "schedulers", "ghost", "COUNT", 10, "STREAMS", keys.events(), ">");
  await r.xclaim(keys.events(), "schedulers", "ghost", 0, worn, "IDLE", 600_000, "RETRYCOUNT", 4);
  await r.xclaim(keys.events(), "schedulers", "ghost", 0, fresh, "IDLE", 600_000, "RETRYCOUNT", 0);

  // unsigned events pass with agent auth off: this test is about the consumer, not about who wrote them
  const s = await startScheduler(redis.url, ns, join(tmp.dir, ns), { HIL_AGENT_AUTH: "off" });
  cleanups.push(() => s.svc.stop());
  const pendingIds = async () => ((await r.xpending(keys.events(), "schedulers", "-", "+", 10)) as [string][]).map((p) => p[0]);
  // the worn one is acked (no more retries); the young one stays pending, to be tried again
  await waitUntil("the worn entry to leave the pending list", async () => (await pendingIds()).join() === fresh);
  await sleep(500);
  assert.equal(await pendingIds(), [fresh]);
  const dead = await r.xrange(keys.deadLetters(), "-", "+");
  assert.is(dead.length, 1);
  const fields = dead[0]?.[1] ?? [];
  assert.is(fields[fields.indexOf("id") + 1], worn);
  assert.match(fields[fields.indexOf("reason") + 1] ?? "", /failed 5 times/);
});

/** A connection of the test's own, closed after the test. */
function connect(): Redis {
  const r = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  cleanups.push(async () => r.disconnect());
  return r;
}

test.run();
