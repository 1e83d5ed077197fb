// The dashboard gateway on the scheduler's own HTTP server, with a real Redis and real socket.io clients:
// authentication with the API's tokens and sessions, log rooms with exact resume, one shared reader, change events.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { io as connectClient, type Socket } from "socket.io-client";
import { pino } from "pino";
import { Redis } from "ioredis";
import { SuiteSchema, type ChangeEvent, type LogLine } from "@hil/contracts";
import { claimBoards } from "@hil/lab-protocol";
import { createSchedulerApp, loadSchedulerConfig, RateLimiter, staticCatalog, type SchedulerApp } from "@hil/scheduler";
import { makeTempDir, type PrivateRedis, startPrivateRedis, waitUntil } from "@hil/test-kit";
import { createGateway, type Ack, type ClientToServerEvents, type Gateway, type LinesBatch, type ServerToClientEvents } from "../src/index.js";

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

const ADMIN = "admin-token-0123456789";
const VIEWER = "viewer-token-0123456789";
const AGENT = "bench1-agent-secret-0123456789";
const RECHECK_MS = 200;

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
let svc: SchedulerApp;
let gateway: Gateway | undefined;
let url: string;
let writer: Redis;
const clients: Client[] = [];

const catalog = staticCatalog(
  [
    SuiteSchema.parse({ name: "smoke", roles: { dut: { profile: "esp32-devkitc" } }, timeout: "2m", steps: [{ type: "send", role: "dut", text: "hi" }] }),
  ],
  [{ id: "esp32-devkitc", kind: "esp32" }],
);

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-gateway-");
  const ns = `t${randomBytes(4).toString("hex")}`;
  const config = loadSchedulerConfig({
    REDIS_URL: redis.url,
    HIL_NAMESPACE: ns,
    HIL_ADMIN_TOKEN: ADMIN,
    HIL_TOKENS: `vera:viewer:${VIEWER},bench1:agent:${AGENT}`,
    HIL_ARTIFACT_DIR: join(tmp.dir, "artifacts"),
    HIL_PORT: "0",
    HIL_TICK: "200ms",
  });
  svc = createSchedulerApp(config, {
    catalog,
    logger: pino({ level: "silent" }),
    attach: (server, ctx) => (gateway = createGateway({ server, redis: ctx.redis, keys: ctx.keys, tokens: ctx.tokens, recheckMs: RECHECK_MS, blockMs: 200 })),
  });
  ({ url } = await svc.start());
  await gateway?.ready;
  writer = new Redis(redis.url);
});

test.after(async () => {
  for (const c of clients) c.disconnect();
  writer?.disconnect();
  await svc?.stop();
  await redis?.stop();
  await tmp?.remove();
});

function gw(): Gateway {
  if (!gateway) throw new Error("the scheduler did not attach the gateway");
  return gateway;
}

/** Connects; resolves with the socket, or rejects with the connect_error message. */
function connect(token: string | undefined, to = url): Promise<Client> {
  const socket: Client = connectClient(to, { transports: ["websocket"], reconnection: false, ...(token === undefined ? {} : { auth: { token } }) });
  clients.push(socket);
  return new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(err));
  });
}

/** Every cursor (as a sequence number) a socket received in a room, in arrival order. */
function collect(socket: Client, room: string): number[] {
  const seen: number[] = [];
  socket.on("lines", (batch: LinesBatch) => {
    if (batch.room === room) for (const l of batch.lines) seen.push(Number(l.cursor.split("-")[0]));
  });
  return seen;
}

let nextSeq = 1;
/** Appends `n` lines to a board's stream the way the agent's LogShipper does (entry id `<seq>-0`); returns the last seq. */
async function writeLines(board: string, n: number): Promise<number> {
  const pipe = writer.pipeline();
  for (let i = 0; i < n; i++) {
    const seq = nextSeq++;
    const line: LogLine = { board, run: null, seq, mono: seq, wall: Date.now(), stream: "serial", text: `line ${seq}` };
    pipe.xadd(svc.context.keys.boardLog(board), "MAXLEN", "~", "20000", `${seq}-0`, "json", JSON.stringify(line));
  }
  await pipe.exec();
  return nextSeq - 1;
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);

test("no token or a wrong one: connect_error unauthorized", async () => {
  for (const token of [undefined, "", "not-a-token-at-all", `hil_0123456789abcdef_${"x".repeat(43)}`]) {
    const err = await connect(token).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.is(err?.message, "unauthorized", `token ${String(token)}`);
  }
});

test("a viewer gets a board's backlog and then its live lines, each once", async () => {
  const last = await writeLines("dk1", 20);
  const c = await connect(VIEWER);
  const seen = collect(c, "board:dk1");
  const ack = await c.emitWithAck("join", { room: "board", id: "dk1", since: 0 });
  assert.equal(ack, { ok: true, room: "board:dk1", cursor: `${last}-0` });
  assert.equal(seen, range(1, last));
  const live = await writeLines("dk1", 10);
  await waitUntil("live lines", () => seen.length >= live);
  assert.equal(seen, range(1, live));
  c.disconnect();
});

test("join with since gets exactly the lines after it; a board sequence number and a cursor mean the same", async () => {
  const top = nextSeq - 1;
  const a = await connect(VIEWER);
  const seenA = collect(a, "board:dk1");
  await a.emitWithAck("join", { room: "board", id: "dk1", since: top - 5 });
  assert.equal(seenA, range(top - 4, top));
  const b = await connect(VIEWER);
  const seenB = collect(b, "board:dk1");
  await b.emitWithAck("join", { room: "board", id: "dk1", since: `${top - 2}-0` });
  assert.equal(seenB, range(top - 1, top));
  a.disconnect();
  b.disconnect();
});

test("tail 0 on a board that already has lines: no backlog, then every live line", async () => {
  const top = nextSeq - 1;
  const c = await connect(VIEWER);
  const seen = collect(c, "board:dk1");
  const ack = await c.emitWithAck("join", { room: "board", id: "dk1", tail: 0 });
  assert.equal(ack, { ok: true, room: "board:dk1", cursor: `${top}-0` });
  const live = await writeLines("dk1", 3);
  await waitUntil("live lines", () => seen.length >= 3);
  assert.equal(seen, range(top + 1, live));
  c.disconnect();
});

test("lines written while clients join are delivered exactly once, to each of them", async () => {
  const start = nextSeq - 1;
  let writing = true;
  const pump = (async () => {
    while (writing) {
      await writeLines("dk2", 7);
      await new Promise((r) => setTimeout(r, 3));
    }
  })();
  const joined: { since: number; seen: number[] }[] = [];
  // joins land at every moment: before the room has a reader, while it has one, while others leave
  for (let i = 0; i < 12; i++) {
    const c = await connect(VIEWER);
    const since = Math.max(0, nextSeq - 1 - 30);
    const seen = collect(c, "board:dk2");
    const ack = await c.emitWithAck("join", { room: "board", id: "dk2", since });
    assert.ok(ack.ok, JSON.stringify(ack));
    joined.push({ since, seen });
    if (i === 3 || i === 7) {
      // the room empties now and then: its reader stops, the next join starts a new one
      for (const c2 of clients) if (c2.connected && c2 !== c) c2.disconnect();
      await waitUntil("reader stop", () => gw().readerCount <= 1);
    }
    await new Promise((r) => setTimeout(r, 15));
  }
  writing = false;
  await pump;
  const end = nextSeq - 1;
  assert.ok(end - start > 100, "lines were written throughout");
  // clients still connected saw everything after their since, in order, once
  const open = joined.filter((_, i) => clients[clients.length - 12 + i]?.connected);
  assert.ok(open.length >= 3);
  for (const j of open) {
    await waitUntil(`lines up to ${end}`, () => j.seen[j.seen.length - 1] === end);
    // dk2 carries only lines written by the pump (seq numbers are shared with dk1, so dk2's are a subset)
    const want = j.seen.filter((s) => s > j.since);
    assert.equal(j.seen, want, "nothing at or before since");
    assert.equal(new Set(j.seen).size, j.seen.length, "no duplicate");
    assert.equal([...j.seen].sort((x, y) => x - y), j.seen, "in order");
  }
  // every open client has the same lines after the newest since: no gap for anyone
  const newest = Math.max(...open.map((j) => j.since));
  const ref = open[0]?.seen.filter((s) => s > newest) ?? [];
  for (const j of open) assert.equal(j.seen.filter((s) => s > newest), ref);
  const all = await writer.xrange(svc.context.keys.boardLog("dk2"), `(${newest}-0`, "+");
  assert.equal(ref, all.map(([id]) => Number(id.split("-")[0])), "exactly what the stream holds");
  for (const c of clients) c.disconnect();
  await waitUntil("readers stop", () => gw().readerCount === 0);
});

test("two clients and two rooms share one reader per room and one blocking Redis connection", async () => {
  await writeLines("dk3", 3);
  const a = await connect(VIEWER);
  const b = await connect(ADMIN);
  await a.emitWithAck("join", { room: "board", id: "dk3" });
  await b.emitWithAck("join", { room: "board", id: "dk3" });
  await b.emitWithAck("join", { room: "run", id: "run-x" });
  assert.is(gw().readerCount, 2);
  assert.is(gw().followerConnections, 1);
  await new Promise((r) => setTimeout(r, 300));
  const list = (await writer.client("LIST")) as string;
  const blocked = list.split("\n").filter((l) => /\bcmd=xread\b/.test(l));
  assert.is(blocked.length, 1, list);
  await b.emitWithAck("leave", { room: "run", id: "run-x" });
  assert.is(gw().readerCount, 1);
  a.disconnect();
  await waitUntil("one member left", () => gw().readerCount === 1);
  b.disconnect();
  await waitUntil("last member left", () => gw().readerCount === 0);
});

test("a reconnect with the last cursor resumes without gap or duplicate", async () => {
  await writeLines("dk4", 10);
  const a = await connect(VIEWER);
  const first = collect(a, "board:dk4");
  await a.emitWithAck("join", { room: "board", id: "dk4", since: 0 });
  await writeLines("dk4", 5);
  await waitUntil("live", () => first.length === 15);
  a.disconnect();
  const lastSeen = first[first.length - 1] ?? 0;
  await writeLines("dk4", 6); // printed while the page was away
  const b = await connect(VIEWER);
  const second = collect(b, "board:dk4");
  await b.emitWithAck("join", { room: "board", id: "dk4", since: lastSeen });
  await writeLines("dk4", 4);
  await waitUntil("resumed", () => second.length === 10);
  const whole = [...first, ...second];
  const stream = await writer.xrange(svc.context.keys.boardLog("dk4"), "-", "+");
  assert.equal(whole, stream.map(([id]) => Number(id.split("-")[0])));
  b.disconnect();
});

test("run log rooms follow the run's stream (Redis-made ids) and resume from a cursor", async () => {
  const key = svc.context.keys.runLog("run-7");
  const add = (text: string) => writer.xadd(key, "*", "json", JSON.stringify({ board: "dk1", run: "run-7", seq: 1, mono: 0, wall: 0, stream: "serial", text }));
  await add("a");
  const cursorB = await add("b");
  const c = await connect(VIEWER);
  const texts: string[] = [];
  c.on("lines", (batch) => batch.room === "run:run-7" && texts.push(...batch.lines.map((l) => l.line.text)));
  const ack = await c.emitWithAck("join", { room: "run", id: "run-7", since: cursorB ?? undefined });
  assert.ok(ack.ok);
  await add("c");
  await waitUntil("run line", () => texts.length === 1);
  assert.equal(texts, ["c"]);
  c.disconnect();
});

test("a run's state changes reach a client in the changes room", async () => {
  const c = await connect(VIEWER);
  const changes: ChangeEvent[] = [];
  c.on("change", (ch) => changes.push(ch));
  assert.equal(await c.emitWithAck("join", { room: "changes" }), { ok: true, room: "changes" });
  // a board's hash as an agent writes it, so the run is accepted (no live agent: it stays queued)
  await claimBoards(writer, svc.context.keys, "bench1", [
    { id: "dk9", profile: "esp32-devkitc", agent: "bench1", identity: {}, state: "idle", labels: {}, virtual: true, health: 100, updatedAt: Date.now() },
  ]);
  const res = await fetch(`${url}/api/v1/runs`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify({ suite: "smoke" }) });
  assert.is(res.status, 201, await res.clone().text());
  const { id } = (await res.json()) as { id: string };
  await waitUntil("queued", () => changes.some((ch) => ch.kind === "run" && ch.id === id && ch.state === "queued"));
  const cancel = await fetch(`${url}/api/v1/runs/${id}/cancel`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` } });
  assert.is(cancel.status, 200);
  await waitUntil("cancelled", () => changes.some((ch) => ch.kind === "run" && ch.id === id && ch.state === "cancelled"));
  c.disconnect();
});

test("a malformed payload is answered with an error; the gateway carries on", async () => {
  const c = await connect(VIEWER);
  const bad: unknown[] = [null, 42, "board:dk1", { room: "board" }, { room: "board", id: "../x" }, { room: "board", id: "dk1", since: -1 }, { room: "nope", id: "dk1" }, { room: "board", id: "dk1", extra: true }];
  for (const payload of bad) {
    const ack = (await (c as unknown as { emitWithAck(ev: string, p: unknown): Promise<Ack> }).emitWithAck("join", payload)) as Ack;
    assert.is(ack.ok, false, JSON.stringify(payload));
    if (!ack.ok) assert.match(ack.error, /^bad join/);
  }
  // no ack function at all: nothing to answer, nothing breaks
  (c as unknown as { emit(ev: string, p: unknown): void }).emit("join", { room: 1 });
  const ok = await c.emitWithAck("join", { room: "board", id: "dk1", since: nextSeq - 1 });
  assert.ok(ok.ok);
  // the same room twice at once: the second is refused rather than sending the backlog twice
  const seen = collect(c, "board:dk1");
  const [first, second] = await Promise.all([c.emitWithAck("join", { room: "board", id: "dk1", since: 0 }), c.emitWithAck("join", { room: "board", id: "dk1", since: 0 })]);
  assert.ok(first.ok);
  assert.equal(second, { ok: false, error: "already joining board:dk1; wait for that answer" });
  assert.equal(new Set(seen).size, seen.length, "no line twice");
  c.disconnect();
});

test("an agent's token connects but may join no room", async () => {
  const c = await connect(AGENT);
  assert.equal(await c.emitWithAck("join", { room: "board", id: "dk1" }), { ok: false, error: "forbidden" });
  assert.equal(await c.emitWithAck("join", { room: "changes" }), { ok: false, error: "forbidden" });
  assert.is(gw().readerCount, 0);
  c.disconnect();
});

test("a revoked session is refused at its next event and cannot connect again", async () => {
  const { token, record } = await svc.context.tokens.create({ kind: "session", name: "vera", role: "viewer", scope: {}, createdBy: "vera", expiresAt: Date.now() + 3_600_000 });
  const c = await connect(token);
  assert.ok((await c.emitWithAck("join", { room: "changes" })).ok);
  await svc.context.tokens.revoke(record.id, "admin");
  await new Promise((r) => setTimeout(r, RECHECK_MS + 50));
  const gone = new Promise<void>((resolve) => c.once("disconnect", () => resolve()));
  assert.equal(await c.emitWithAck("join", { room: "board", id: "dk1" }), { ok: false, error: "unauthorized" });
  await gone;
  const err = await connect(token).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.is(err?.message, "unauthorized");
});

test("past the failed sign-in limit an address is refused, even with a good token, saying when to retry", async () => {
  const server = createServer();
  const g = createGateway({ server, redis: svc.context.redis, keys: svc.context.keys, tokens: svc.context.tokens, failedAuthLimit: 3 });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const to = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  const refusal = (token: string) =>
    connect(token, to).then(
      (c) => (c.disconnect(), "connected"),
      (e: Error) => e.message,
    );
  try {
    for (let i = 0; i < 3; i++) assert.is(await refusal(`wrong-token-${i}-0123456789`), "unauthorized");
    assert.match(await refusal(VIEWER), /too many failed sign-ins from this address; retry in \d+s/);
  } finally {
    await g.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("a gateway given the API's limiter shares its budget: bad tokens on the REST API count against a handshake", async () => {
  const limiter = new RateLimiter(3, 60_000);
  const server = createServer();
  const g = createGateway({ server, redis: svc.context.redis, keys: svc.context.keys, tokens: svc.context.tokens, failedAuth: limiter });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  const to = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
  try {
    // what the API's authorize middleware does with a bad bearer token from this address
    for (let i = 0; i < 3; i++) limiter.hit("127.0.0.1");
    const refusal = await connect(VIEWER, to).then(
      (c) => (c.disconnect(), "connected"),
      (e: Error) => e.message,
    );
    assert.match(refusal, /too many failed sign-ins from this address; retry in \d+s/);
  } finally {
    await g.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test.run();
