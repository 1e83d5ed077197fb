// The access policy, attacked route by route: every route of the policy table × every kind of
// caller (each role, no token, revoked, expired, and the strings that open a plain-object lookup),
// ownership of runs and bookings, scoped tokens, priority caps, rate limits, and the audit log.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makeTempDir } from "@hil/test-kit";
import { ROUTES, type RouteRule } from "../src/api/route-policy.js";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { ADMIN, ALICE, BOB, asBooking, asRun, freshNamespace, startScheduler, type ApiResponse, type Running } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
let s: Running;
let agent: FakeAgent;

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-access-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});
test.before.each(async () => {
  const ns = freshNamespace();
  s = await startScheduler(redis.url, ns, tmp.dir, { HIL_AUTH_FAIL_LIMIT: "1000000", HIL_SUBMIT_LIMIT: "1000000" });
  agent = new FakeAgent(redis.url, ns, "bench1", [
    { id: "dk1", profile: "esp32-devkitc", labels: { rack: "a" } },
    { id: "dk2", profile: "esp32-devkitc", labels: { rack: "b" } },
  ]);
  await agent.register(false);
});
test.after.each(async () => {
  await agent?.stop();
  await s?.svc.stop();
});

async function mint(body: Record<string, unknown>): Promise<{ id: string; token: string }> {
  const r = await s.api("/api/v1/tokens", { body });
  assert.is(r.status, 201, r.text);
  return r.json as { id: string; token: string };
}

/** The policy, written out by hand (not derived from the table under test): who may call what. */
type Caller = "viewer" | "qa" | "alice" | "bob" | "scoped" | "admin" | "admin2" | "agent";
// "scoped" is a ci token limited to esp32-virtual boards: every board of this lab is outside its scope
const READERS: Caller[] = ["viewer", "qa", "alice", "bob", "scoped", "admin", "admin2"];
const EVERYONE: Caller[] = [...READERS, "agent"];
const ADMINS: Caller[] = ["admin", "admin2"];
const EXPECTED: Record<string, Caller[] | "public"> = {
  "GET /healthz": "public",
  "GET /metrics": READERS,
  "GET /api/v1/openapi.json": READERS,
  "POST /api/v1/runs": ["alice", "bob", ...ADMINS], // scoped: the suite's profile is outside its scope
  "GET /api/v1/runs": READERS,
  "GET /api/v1/runs/:id": READERS,
  "POST /api/v1/runs/:id/cancel": ["alice", ...ADMINS], // alice submitted it; bob is ci too, but not its submitter
  "GET /api/v1/runs/:id/junit": READERS,
  "GET /api/v1/runs/:id/log": READERS,
  "GET /api/v1/boards": READERS,
  "GET /api/v1/boards/:id": READERS,
  "GET /api/v1/boards/:id/log": READERS,
  "GET /api/v1/boards/:id/history": READERS,
  "POST /api/v1/boards/:id/quarantine": ADMINS,
  "POST /api/v1/boards/:id/release-quarantine": ADMINS,
  "POST /api/v1/boards/:id/release-owner": ADMINS,
  // qa holds dk2's active booking; alice holds dk1's but ci has no console permission
  "POST /api/v1/boards/:id/console": ["qa", ...ADMINS],
  "POST /api/v1/boards/:id/reset": ["qa", ...ADMINS],
  "GET /api/v1/boards/:id/serial": ["qa", ...ADMINS], // a plain GET answers 426 (open it as a WebSocket)
  "GET /api/v1/agent/tunnels/:id": ["agent"], // 426 for a plain GET; the agent's end of a serial tunnel
  "POST /api/v1/boards/:id/flash": ["qa", ...ADMINS],
  "POST /api/v1/bookings": ["qa", "alice", "bob", ...ADMINS], // scoped: the board is outside its scope
  "GET /api/v1/bookings": READERS,
  "GET /api/v1/bookings/:id": READERS,
  "POST /api/v1/bookings/:id/extend": ["alice", ...ADMINS], // alice holds it
  "POST /api/v1/bookings/:id/release": ["alice", ...ADMINS],
  "POST /api/v1/artifacts": ["qa", "alice", "bob", "scoped", ...ADMINS],
  "GET /api/v1/artifacts/:sha256": EVERYONE,
  // each caller sees and deletes only its own webhooks (the handler's check): every submitter may call these
  "POST /api/v1/webhooks": ["alice", "bob", "scoped", ...ADMINS],
  "GET /api/v1/webhooks": ["alice", "bob", "scoped", ...ADMINS],
  "DELETE /api/v1/webhooks/:id": ["alice", "bob", "scoped", ...ADMINS],
  "GET /api/v1/tokens": ADMINS,
  "POST /api/v1/tokens": ADMINS,
  "POST /api/v1/tokens/:id/revoke": ADMINS,
  "GET /api/v1/users": ADMINS,
  "POST /api/v1/users": ADMINS,
  "PATCH /api/v1/users/:name": ADMINS,
  "DELETE /api/v1/users/:name": ADMINS,
  "POST /api/v1/sessions": "public",
  "DELETE /api/v1/sessions/current": EVERYONE,
  "GET /api/v1/me": EVERYONE,
  "GET /api/v1/audit": ADMINS,
};
const key = (r: RouteRule) => `${r.method} ${r.path}`;
const HOSTILE = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf", "admin", "null", "undefined", "hil_0000000000000000_" + "A".repeat(43)];

test("the hand-written policy covers exactly the routes of the policy table", () => {
  assert.equal(ROUTES.map(key).sort(), Object.keys(EXPECTED).sort());
});

test("route × caller: each role gets in where the policy says and 403 elsewhere; bad credentials get 401 everywhere", async () => {
  const callers: Record<Caller, string> = {
    viewer: (await mint({ name: "wall-screen", role: "viewer" })).token,
    qa: (await mint({ name: "qa-desk", role: "qa" })).token,
    alice: ALICE,
    bob: BOB,
    scoped: (await mint({ name: "virtual-only", role: "ci", profiles: ["esp32-virtual"] })).token,
    admin: ADMIN,
    admin2: (await mint({ name: "second-admin", role: "admin" })).token,
    agent: (await mint({ name: "bench1", role: "agent" })).token,
  };
  const revoked = await mint({ name: "old-ci", role: "ci" });
  assert.is((await s.api(`/api/v1/tokens/${revoked.id}/revoke`, { method: "POST" })).status, 200);
  const expired = await mint({ name: "short-ci", role: "ci", expiresIn: "1ms" });
  await new Promise((r) => setTimeout(r, 20));

  const run = asRun(await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: ALICE }));
  const booking = asBooking(await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1h" }, token: ALICE }));
  // the console routes are walked on dk2, which qa holds now (the walk's own bookings of dk2 start hours later)
  asBooking(await s.api("/api/v1/bookings", { body: { board: "dk2", duration: "1h" }, token: callers.qa }));
  const upload = await fetch(`${s.url}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: Buffer.from("firmware bytes") });
  const { sha256 } = (await upload.json()) as { sha256: string };
  let spare = 0;

  const request = async (rule: RouteRule, token: string | null): Promise<ApiResponse> => {
    spare++;
    const path = rule.path
      .replace("/runs/:id", `/runs/${run.id}`)
      .replace("/bookings/:id", `/bookings/${booking.id}`)
      .replace(/\/boards\/:id\/(console|reset|flash|serial)$/, "/boards/dk2/$1")
      .replace("/agent/tunnels/:id", "/agent/tunnels/00000000-0000-4000-8000-000000000000")
      .replace("/boards/:id", "/boards/dk1")
      .replace(":sha256", sha256)
      .replace("/tokens/:id", `/tokens/${(await mint({ name: `spare-${spare}`, role: "viewer" })).id}`)
      .replace(":name", `spare-user-${spare}`);
    const bodies: Record<string, unknown> = {
      "POST /api/v1/runs": { suite: "smoke" },
      "POST /api/v1/bookings": { board: "dk2", duration: "1m", start: Date.now() + 3_600_000 * (1 + spare) },
      "POST /api/v1/bookings/:id/extend": { duration: "1m" },
      "POST /api/v1/tokens": { name: `made-${spare}`, role: "viewer" },
      "POST /api/v1/users": { name: `person-${spare}`, role: "viewer", password: "correct horse battery" },
      "PATCH /api/v1/users/:name": { role: "qa" },
      "POST /api/v1/sessions": { name: "nobody", password: "wrong" },
      "POST /api/v1/boards/:id/quarantine": { reason: "policy test" },
      "POST /api/v1/boards/:id/console": { text: "help", newline: true },
      "POST /api/v1/boards/:id/reset": { mode: "run" },
      "POST /api/v1/boards/:id/flash": { artifact: sha256 },
      "POST /api/v1/artifacts": undefined,
    };
    const body = bodies[key(rule)];
    if (rule.path === "/api/v1/artifacts") {
      const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
      const res = await fetch(`${s.url}${path}`, { method: "POST", headers, body: Buffer.from(`bytes ${spare}`) });
      return { status: res.status, json: undefined, text: await res.text() };
    }
    return s.api(path, { method: rule.method, token, ...(body !== undefined ? { body } : rule.method !== "GET" && rule.method !== "DELETE" ? { body: {} } : {}) });
  };

  const table: string[] = [];
  for (const rule of ROUTES) {
    if (rule.path.endsWith("/log") && rule.path.includes("boards")) continue; // SSE: checked below without following
    const expected = EXPECTED[key(rule)];
    const row: string[] = [];
    for (const caller of Object.keys(callers) as Caller[]) {
      const r = await request(rule, callers[caller]);
      const allowed = expected === "public" || expected?.includes(caller);
      if (expected === "public") assert.ok(r.status !== 403 && r.status < 500, `${key(rule)} as ${caller}: ${r.status} ${r.text}`);
      else if (allowed) assert.ok(r.status !== 401 && r.status !== 403 && r.status < 500, `${key(rule)} as ${caller}: ${r.status} ${r.text}`);
      else assert.is(r.status, 403, `${key(rule)} as ${caller}: ${r.status} ${r.text}`);
      row.push(allowed ? "yes" : "403");
    }
    for (const bad of [null, ...HOSTILE, revoked.token, expired.token]) {
      const r = await request(rule, bad);
      if (expected === "public") assert.ok(r.status < 500 && r.status !== 403, `${key(rule)} with ${bad}: ${r.status}`);
      else assert.is(r.status, 401, `${key(rule)} with token ${JSON.stringify(bad)}: ${r.status} ${r.text}`);
    }
    table.push(`${key(rule).padEnd(46)} ${row.join(" ")}`);
  }
  if (process.env.HIL_PRINT_POLICY) console.log(`route${" ".repeat(41)} ${Object.keys(callers).join(" ")}\n${table.join("\n")}`);

  // the live log stream: answered (not followed) for readers, refused for the rest
  for (const [caller, token] of Object.entries(callers)) {
    const res = await fetch(`${s.url}/api/v1/boards/dk1/log`, { headers: { authorization: `Bearer ${token}` } });
    await res.body?.cancel();
    assert.is(res.status, caller === "agent" ? 403 : 200, `board log as ${caller}`);
  }
  for (const bad of HOSTILE) {
    const res = await fetch(`${s.url}/api/v1/boards/dk1/log`, { headers: { authorization: `Bearer ${bad}` } });
    await res.body?.cancel();
    assert.is(res.status, 401, `board log with ${bad}`);
  }
});

test("a ci token cannot cancel another's run, ask for more than its priority cap, or release another's booking", async () => {
  const run = asRun(await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: ALICE }));
  let r = await s.api(`/api/v1/runs/${run.id}/cancel`, { method: "POST", token: BOB });
  assert.is(r.status, 403, r.text);
  assert.is(asRun(await s.api(`/api/v1/runs/${run.id}`)).state, "queued");
  r = await s.api("/api/v1/runs", { body: { suite: "smoke", priority: 90 }, token: BOB });
  assert.is(r.status, 403, r.text);
  assert.match(r.text, /priority/);
  assert.is((await s.api("/api/v1/runs", { body: { suite: "smoke", priority: 50 }, token: BOB })).status, 201);
  assert.is((await s.api("/api/v1/runs", { body: { suite: "smoke", priority: 90 } })).status, 201, "admin may");
  const capped = await mint({ name: "nightly", role: "ci", maxPriority: 95 });
  assert.is((await s.api("/api/v1/runs", { body: { suite: "smoke", priority: 90 }, token: capped.token })).status, 201);

  const bk = asBooking(await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1h" }, token: ALICE }));
  assert.is((await s.api(`/api/v1/bookings/${bk.id}/release`, { method: "POST", token: BOB })).status, 403);
  assert.is((await s.api(`/api/v1/bookings/${bk.id}/extend`, { body: { duration: "1h" }, token: BOB })).status, 403);
  assert.is((await s.api(`/api/v1/bookings/${bk.id}/release`, { method: "POST", token: ALICE })).status, 200);
  assert.is((await s.api(`/api/v1/runs/${run.id}/cancel`, { method: "POST", token: ALICE })).status, 200);
});

test("a scoped token runs and books only inside its profiles and labels", async () => {
  const virt = await mint({ name: "gitlab-virtual", role: "ci", profiles: ["esp32-virtual"] });
  let r = await s.api("/api/v1/runs", { body: { suite: "smoke", profile: "esp32-devkitc" }, token: virt.token });
  assert.is(r.status, 403, r.text);
  assert.match(r.text, /esp32-virtual/);
  r = await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1h" }, token: virt.token });
  assert.is(r.status, 403, r.text);

  const rackB = await mint({ name: "rack-b-ci", role: "ci", profiles: ["esp32-*"], labels: { rack: "b" } });
  const run = asRun(await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: rackB.token }));
  assert.is(run.submitter, "rack-b-ci");
  r = await s.api("/api/v1/runs", { body: { suite: "smoke", labels: { rack: "a" } }, token: rackB.token });
  assert.is(r.status, 403, r.text);
  r = await s.api("/api/v1/runs", { body: { suite: "smoke", board: "dk1" }, token: rackB.token });
  assert.is(r.status, 403, r.text);
  assert.is((await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1h" }, token: rackB.token })).status, 403);
  const bk = asBooking(await s.api("/api/v1/bookings", { body: { requirements: { profile: "esp32-devkitc" }, duration: "1h" }, token: rackB.token }));
  assert.is(bk.board, "dk2", "a booking by requirements lands on the in-scope board");

  // the run only ever goes to rack b: dk1 (rack a) is free, dk2 is booked by rack-b-ci itself
  await agent.stop();
  agent = new FakeAgent(redis.url, s.config.namespace, "bench1", [
    { id: "dk1", profile: "esp32-devkitc", labels: { rack: "a" } },
    { id: "dk2", profile: "esp32-devkitc", labels: { rack: "b" } },
  ]);
  await agent.start();
  for (let i = 0; i < 100; i++) {
    const now = asRun(await s.api(`/api/v1/runs/${run.id}`));
    if (now.state === "passed") {
      assert.equal(Object.values(now.boards), ["dk2"]);
      return;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  assert.unreachable("the scoped run never passed");
});

test("revoking a token locks it out at once; tokens are stored only as hashes", async () => {
  const t = await mint({ name: "temp-ci", role: "ci" });
  assert.is((await s.api("/api/v1/me", { token: t.token })).status, 200);
  const stored = await s.svc.context.redis.hgetall(s.svc.context.keys.tokens());
  assert.not.ok(JSON.stringify(stored).includes(t.token.split("_")[2] ?? "x"), "the secret is not in Redis");
  const list = (await s.api("/api/v1/tokens")).json as { tokens: { id: string; hash?: string }[] };
  assert.ok(list.tokens.some((x) => x.id === t.id));
  assert.ok(list.tokens.every((x) => x.hash === undefined), "the list never shows hashes");
  assert.is((await s.api(`/api/v1/tokens/${t.id}/revoke`, { method: "POST" })).status, 200);
  assert.is((await s.api("/api/v1/me", { token: t.token })).status, 401);
  // a token differing in one character of its secret is refused
  const forged = t.token.slice(0, -1) + (t.token.endsWith("A") ? "B" : "A");
  assert.is((await s.api("/api/v1/me", { token: forged })).status, 401);
});

test("a name keeps one role; accounts sign in with scrypt-checked passwords and sessions end", async () => {
  assert.is((await s.api("/api/v1/tokens", { body: { name: "alice", role: "admin" } })).status, 409, "alice is a ci token already");
  assert.is((await s.api("/api/v1/users", { body: { name: "dora", role: "qa", password: "short" } })).status, 400);
  assert.is((await s.api("/api/v1/users", { body: { name: "dora", role: "qa", password: "a long enough password" } })).status, 201);
  const raw = await s.svc.context.redis.hget(s.svc.context.keys.users(), "dora");
  assert.match(raw ?? "", /"password":"scrypt\$/);
  assert.not.match(raw ?? "", /a long enough password/);
  assert.is((await s.api("/api/v1/sessions", { body: { name: "dora", password: "wrong password" }, token: null })).status, 401);
  const session = (await s.api("/api/v1/sessions", { body: { name: "dora", password: "a long enough password" }, token: null })).json as { token: string; role: string };
  assert.is(session.role, "qa");
  const me = (await s.api("/api/v1/me", { token: session.token })).json as { name: string; via: string };
  assert.equal([me.name, me.via], ["dora", "session"]);
  assert.is((await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1h" }, token: session.token })).status, 201);
  assert.is((await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: session.token })).status, 403, "qa does not submit runs");
  assert.is((await s.api("/api/v1/sessions/current", { method: "DELETE", token: session.token })).status, 204);
  assert.is((await s.api("/api/v1/me", { token: session.token })).status, 401);
  assert.is((await s.api("/api/v1/users/dora", { method: "PATCH", body: { disabled: true } })).status, 200);
  assert.is((await s.api("/api/v1/sessions", { body: { name: "dora", password: "a long enough password" }, token: null })).status, 401);
});

test("the audit log records who created, revoked, booked, released, cancelled and quarantined", async () => {
  const t = await mint({ name: "audited-ci", role: "ci" });
  await s.api(`/api/v1/tokens/${t.id}/revoke`, { method: "POST" });
  const bk = asBooking(await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1h" }, token: ALICE }));
  await s.api(`/api/v1/bookings/${bk.id}/release`, { method: "POST", token: ALICE });
  const run = asRun(await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: BOB }));
  await s.api(`/api/v1/runs/${run.id}/cancel`, { method: "POST", token: BOB });
  await s.api("/api/v1/boards/dk2/quarantine", { body: { reason: "flaky USB" } });
  await s.api(`/api/v1/runs/${run.id}/cancel`, { method: "POST", token: ALICE }); // refused: not audited
  await new Promise((r) => setTimeout(r, 100));
  const r = await s.api("/api/v1/audit?limit=50");
  assert.is(r.status, 200, r.text);
  const entries = (r.json as { entries: { actor: string; action: string; target?: string }[] }).entries;
  const seen = entries.map((e) => `${e.actor} ${e.action} ${e.target ?? ""}`).reverse();
  assert.equal(seen, [
    `admin token.create ${t.id}`,
    `admin token.revoke ${t.id}`,
    `alice booking.create ${bk.id}`,
    `alice booking.release ${bk.id}`,
    `bob run.cancel ${run.id}`,
    "admin board.quarantine dk2",
  ]);
  const onlyBob = (await s.api("/api/v1/audit?actor=bob")).json as { entries: unknown[] };
  assert.is(onlyBob.entries.length, 1);
  assert.is((await s.api("/api/v1/audit", { token: ALICE })).status, 403);
});

test("failed credential checks from one address are rate limited; so are one caller's submissions", async () => {
  await s.svc.stop();
  s = await startScheduler(redis.url, freshNamespace(), tmp.dir, { HIL_AUTH_FAIL_LIMIT: "5", HIL_SUBMIT_LIMIT: "3" });
  for (let i = 0; i < 5; i++) assert.is((await s.api("/api/v1/boards", { token: `guess-${i}-xxxxxxxx` })).status, 401);
  const r = await s.api("/api/v1/boards", { token: "guess-6-xxxxxxxx" });
  assert.is(r.status, 429);
  assert.ok(Number(r.text.match(/in (\d+) s/)?.[1]) > 0, r.text);
  await s.svc.stop();
  s = await startScheduler(redis.url, freshNamespace(), tmp.dir, { HIL_SUBMIT_LIMIT: "3" });
  const agent2 = new FakeAgent(redis.url, s.config.namespace, "bench2", [{ id: "dk9", profile: "esp32-devkitc" }]);
  await agent2.register(false);
  for (let i = 0; i < 3; i++) assert.is((await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: ALICE })).status, 201);
  assert.is((await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: ALICE })).status, 429);
  assert.is((await s.api("/api/v1/runs", { body: { suite: "smoke" }, token: BOB })).status, 201, "another caller is not held back");
  await agent2.stop();
});

test("every answer carries security headers", async () => {
  const res = await fetch(`${s.url}/api/v1/boards`, { headers: { authorization: `Bearer ${ADMIN}` } });
  assert.is(res.headers.get("x-content-type-options"), "nosniff");
  assert.match(res.headers.get("content-security-policy") ?? "", /default-src 'none'/);
  assert.is(res.headers.get("x-frame-options"), "SAMEORIGIN");
  const unauth = await fetch(`${s.url}/api/v1/boards`);
  assert.is(unauth.headers.get("x-content-type-options"), "nosniff");
});

test.run();
