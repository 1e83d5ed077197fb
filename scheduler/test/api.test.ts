// The HTTP API on a real Redis: auth, validation (400 names the field), 422 for what can never run,
// artifacts stored once by hash, OpenAPI covering every route, healthz.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { makeTempDir } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { ALICE, ADMIN, asError, asRun, freshNamespace, startScheduler, type Running } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
let s: Running;
let agent: FakeAgent;

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-api-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});
test.before.each(async () => {
  const ns = freshNamespace();
  s = await startScheduler(redis.url, ns, tmp.dir);
  // registered by an agent that is not running: its board exists (offline), so runs stay queued
  agent = new FakeAgent(redis.url, ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc", labels: { rack: "a" } }]);
  await agent.register(false);
});
test.after.each(async () => {
  await agent?.stop();
  await s?.svc.stop();
});

test("healthz answers without a token and reports Redis", async () => {
  const r = await s.api("/healthz", { token: null });
  assert.is(r.status, 200);
  const body = r.json as { ok: boolean; redis: { reachable: boolean; version?: string }; service: string };
  assert.is(body.ok, true);
  assert.is(body.redis.reachable, true);
  assert.match(body.redis.version ?? "", /^\d+\./);
  assert.is(body.service, "scheduler");
});

test("metrics: queue depth, boards by state, agents alive, dispatch latency", async () => {
  await s.api("/api/v1/runs", { body: { suite: "smoke" } });
  const r = await s.api("/metrics");
  assert.is(r.status, 200);
  assert.match(r.text, /hil_queue_depth 1/);
  assert.match(r.text, /hil_runs\{state="queued"\} 1/);
  assert.match(r.text, /hil_boards\{state="offline"\} 1/);
  assert.match(r.text, /hil_agents_alive 0/);
  assert.match(r.text, /hil_dispatch_latency_seconds_bucket/);
});

test("every other route answers 401 without a valid bearer token", async () => {
  for (const path of ["/api/v1/runs", "/api/v1/boards", "/api/v1/bookings", "/metrics", "/api/v1/openapi.json"]) {
    assert.is((await s.api(path, { token: null })).status, 401, path);
    assert.is((await s.api(path, { token: "not-a-token-at-all" })).status, 401, path);
  }
  assert.is((await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: null })).status, 401);
});

test("an invalid body gets 400 naming the field", async () => {
  let r = await s.api("/api/v1/runs", { body: { suite: "smoke", priority: "high" } });
  assert.is(r.status, 400);
  assert.ok(asError(r).issues?.some((i) => i.path === "priority"), r.text);
  r = await s.api("/api/v1/runs", { body: { suite: "smoke", bogus: 1 } });
  assert.is(r.status, 400);
  assert.ok(asError(r).issues?.some((i) => i.path === "bogus"), r.text);
  r = await s.api("/api/v1/runs", { body: {} });
  assert.ok(asError(r).issues?.some((i) => i.path === "suite"), r.text);
  r = await s.api("/api/v1/runs?limit=9999");
  assert.is(r.status, 400);
  assert.ok(asError(r).issues?.some((i) => i.path === "query.limit"), r.text);
  r = await s.api("/api/v1/bookings", { body: { board: "dk1" } });
  assert.is(r.status, 400);
  assert.ok(asError(r).issues?.some((i) => i.path === "end"), r.text);
});

test("unknown suite or profile, wrong profile kind, unknown artifact: 422 and nothing queued", async () => {
  let r = await s.api("/api/v1/runs", { body: { suite: "no-such-suite" } });
  assert.is(r.status, 422);
  assert.match(asError(r).error, /unknown suite "no-such-suite"/);
  r = await s.api("/api/v1/runs", { body: { suite: "smoke", profile: "esp99" } });
  assert.is(r.status, 422);
  assert.match(asError(r).error, /unknown profile "esp99"/);
  r = await s.api("/api/v1/runs", { body: { suite: "smoke", profile: "android-virtual" } });
  assert.is(r.status, 422);
  assert.match(asError(r).error, /needs a esp32 board/);
  r = await s.api("/api/v1/runs", { body: { suite: "needs-app", artifacts: { app: { sha256: "a".repeat(64), size: 3 } } } });
  assert.is(r.status, 422);
  assert.match(asError(r).error, /not stored/);
  r = await s.api("/api/v1/runs", { body: { suite: "needs-app" } });
  assert.is(r.status, 422);
  assert.match(asError(r).error, /needs the artifact "app"/);
  assert.is(await s.svc.context.redis.zcard(s.svc.context.keys.pending()), 0);
});

test("requirements no registered board can meet are refused at submit with the reason", async () => {
  let r = await s.api("/api/v1/runs", { body: { suite: "smoke", profile: "esp32-virtual" } });
  assert.is(r.status, 422);
  assert.match(asError(r).error, /role dut needs a esp32-virtual board, and none is registered/);
  r = await s.api("/api/v1/runs", { body: { suite: "smoke", labels: { rack: "b" } } });
  assert.is(r.status, 422);
  assert.match(asError(r).error, /labels/);
  r = await s.api("/api/v1/runs", { body: { suite: "pair" } });
  assert.is(r.status, 422);
  assert.match(asError(r).error, /role phone/);
  r = await s.api("/api/v1/runs", { body: { suite: "smoke", board: "nope" } });
  assert.is(r.status, 422);
  // satisfiable by a registered board whose agent is offline (it may come back): queued
  r = await s.api("/api/v1/runs", { body: { suite: "smoke", labels: { rack: "a" } }, token: ALICE });
  assert.is(r.status, 201, r.text);
  const run = asRun(r);
  assert.is(run.state, "queued");
  assert.is(run.submitter, "alice");
  const got = asRun(await s.api(`/api/v1/runs/${run.id}`));
  assert.is(got.queue?.position, 1);
  assert.is((await s.api("/api/v1/runs/r-nope")).status, 404);
});

test("artifacts are stored once by SHA-256 and served back", async () => {
  const bytes = Buffer.from("firmware image bytes \u0000\u0001\u0002");
  const sha = createHash("sha256").update(bytes).digest("hex");
  const post = () =>
    fetch(`${s.url}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/octet-stream" }, body: bytes });
  const first = await post();
  assert.is(first.status, 201);
  assert.equal(await first.json(), { sha256: sha, size: bytes.length });
  const again = await post();
  assert.is(again.status, 200);
  const form = new FormData();
  form.append("file", new Blob([bytes]), "app.bin");
  const multi = await fetch(`${s.url}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: form });
  assert.equal(await multi.json(), { sha256: sha, size: bytes.length });
  const got = await fetch(`${s.url}/api/v1/artifacts/${sha}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.is(got.status, 200);
  assert.ok(Buffer.from(await got.arrayBuffer()).equals(bytes));
  assert.is((await s.api(`/api/v1/artifacts/${"0".repeat(64)}`)).status, 404);
  // now a run may reference it
  const r = await s.api("/api/v1/runs", { body: { suite: "needs-app", artifacts: { app: { sha256: sha, size: bytes.length } } } });
  assert.is(r.status, 201, r.text);
});

test("a run submitted as multipart carries its artifact", async () => {
  const form = new FormData();
  form.append("request", JSON.stringify({ suite: "needs-app", priority: 70 }));
  form.append("app", new Blob([Buffer.from("app-bytes")]), "app.bin");
  const res = await fetch(`${s.url}/api/v1/runs`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: form });
  const text = await res.text();
  assert.is(res.status, 201, text);
  const run = asRun({ status: res.status, json: JSON.parse(text), text });
  const app = run.request.artifacts["app"];
  assert.ok(app && "sha256" in app && app.sha256 === createHash("sha256").update("app-bytes").digest("hex"));
});

test("an artifact given by URL is fetched into the store at submit", async () => {
  const bytes = Buffer.from("image served over http");
  const server = createServer((req, res) => {
    if (req.url === "/app.bin") res.end(bytes);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  // a server on loopback is refused unless allowed (see hostile-input-artifacts.test.ts)
  const allowed = await startScheduler(redis.url, s.config.namespace, tmp.dir, { HIL_FETCH_ALLOW_HOSTS: "127.0.0.1" });
  try {
    const port = (server.address() as AddressInfo).port;
    let r = await allowed.api("/api/v1/runs", { body: { suite: "needs-app", artifacts: { app: { url: `http://127.0.0.1:${port}/app.bin` } } } });
    assert.is(r.status, 201, r.text);
    const sha = createHash("sha256").update(bytes).digest("hex");
    assert.ok(await s.svc.context.artifacts.has(sha));
    r = await allowed.api("/api/v1/runs", { body: { suite: "needs-app", artifacts: { app: { url: `http://127.0.0.1:${port}/missing.bin` } } } });
    assert.is(r.status, 422);
    assert.match(asError(r).error, /answered 404/);
  } finally {
    await allowed.svc.stop();
    server.close();
  }
});

test("runs list filters by state and submitter and pages with a cursor", async () => {
  for (let i = 0; i < 5; i++) {
    const r = await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: i % 2 ? ALICE : ADMIN });
    assert.is(r.status, 201);
    await new Promise((res) => setTimeout(res, 3));
  }
  const mine = await s.api("/api/v1/runs?submitter=alice");
  assert.is((mine.json as { runs: unknown[] }).runs.length, 2);
  const page1 = (await s.api("/api/v1/runs?limit=3")).json as { runs: { id: string; createdAt: number }[]; nextCursor?: string };
  assert.is(page1.runs.length, 3);
  assert.ok(page1.nextCursor);
  const page2 = (await s.api(`/api/v1/runs?limit=3&cursor=${page1.nextCursor}`)).json as { runs: { id: string }[] };
  assert.is(page2.runs.length, 2);
  const ids = new Set([...page1.runs, ...page2.runs].map((r) => r.id));
  assert.is(ids.size, 5);
  const none = (await s.api("/api/v1/runs?state=passed")).json as { runs: unknown[] };
  assert.is(none.runs.length, 0);
  assert.is((await s.api("/api/v1/runs?state=bogus")).status, 400);
});

test("OpenAPI 3.1 covers every route, built from the schemas", async () => {
  const r = await s.api("/api/v1/openapi.json");
  assert.is(r.status, 200);
  const doc = r.json as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> } }>> };
  assert.is(doc.openapi, "3.1.0");
  for (const p of ["/api/v1/runs", "/api/v1/runs/{id}", "/api/v1/runs/{id}/cancel", "/api/v1/runs/{id}/junit", "/api/v1/runs/{id}/log", "/api/v1/boards", "/api/v1/boards/{id}/log", "/api/v1/bookings", "/api/v1/bookings/{id}/extend", "/api/v1/bookings/{id}/release", "/api/v1/artifacts", "/healthz"]) {
    assert.ok(doc.paths[p], `missing ${p}`);
  }
  const props = doc.paths["/api/v1/runs"]?.["post"]?.requestBody?.content["application/json"]?.schema.properties ?? {};
  assert.ok("priority" in props && "suite" in props && "roles" in props);
});

test("boards list shows the derived state; quarantine is admin-only", async () => {
  let r = await s.api("/api/v1/boards");
  const boards = (r.json as { boards: { id: string; state: string }[] }).boards;
  assert.equal(boards.map((b) => [b.id, b.state]), [["dk1", "offline"]]);
  r = await s.api("/api/v1/boards/dk1/quarantine", { body: {}, token: ALICE });
  assert.is(r.status, 403);
  r = await s.api("/api/v1/boards/dk1/quarantine", { body: { reason: "flaky usb" } });
  assert.is(r.status, 200);
  assert.is((r.json as { state: string }).state, "quarantined");
  r = await s.api("/api/v1/boards/dk1/release-quarantine", { body: {} });
  assert.is((r.json as { state: string }).state, "offline");
  assert.is((await s.api("/api/v1/boards/zz/quarantine", { body: {} })).status, 404);
});

test.run();
