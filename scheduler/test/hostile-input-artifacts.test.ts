// Hostile input around artifacts, on a real Redis and the real scheduler: URLs that point inside the
// lab, redirect elsewhere, send too much or too slowly are refused (422 naming the artifact) and
// leave nothing behind; stored artifacts nobody uses any more are collected.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdir, readdir, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { ADMIN, asError, type ApiResponse, type Running } from "./support/harness.js";
import { schedulerWithOfflineBoard } from "./support/offline-board.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
let origin: Server;
let port = 0;
let hits = 0;
const cleanups: (() => Promise<void>)[] = [];

const IMAGE = Buffer.from("firmware served over http");
const BIG = Buffer.alloc(100 * 1024, 9);
const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-hostile-art-");
  // the "artifact server" every test points at; it counts requests to show refused URLs are never fetched
  origin = createServer((req, res) => {
    hits++;
    const path = req.url ?? "";
    if (path === "/app.bin") return void res.end(IMAGE);
    if (path === "/hop") return void res.writeHead(302, { location: "/app.bin" }).end();
    if (path === "/away") return void res.writeHead(302, { location: `http://localhost:${port}/app.bin` }).end();
    if (path === "/big") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      for (let i = 0; i < BIG.length; i += 4096) res.write(BIG.subarray(i, i + 4096));
      return void res.end();
    }
    if (path === "/big-declared") return void res.writeHead(200, { "content-length": String(BIG.length) }).end(BIG);
    if (path === "/slow") return void res.writeHead(200).write("a trickle");
    if (path === "/silent") return; // never answers
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
  port = (origin.address() as AddressInfo).port;
});
test.after(async () => {
  origin?.closeAllConnections();
  origin?.close();
  await redis?.stop();
  await tmp?.remove();
});
test.after.each(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const setup = (extra: Record<string, string> = {}) => schedulerWithOfflineBoard(redis.url, tmp.dir, cleanups, extra);

const submitUrl = (s: Running, url: string) => s.api("/api/v1/runs", { body: { suite: "needs-app", artifacts: { app: { url } } } });

function assertRefused(r: ApiResponse, why: RegExp): void {
  assert.is(r.status, 422, r.text);
  const e = asError(r);
  assert.is(e.field, "artifacts.app", r.text);
  assert.match(e.error, why);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

test("an artifact URL at a loopback address is refused by default, also behind a DNS name, and never fetched", async () => {
  const s = await setup();
  hits = 0;
  let r = await submitUrl(s, `http://127.0.0.1:${port}/app.bin`);
  assertRefused(r, /127\.0\.0\.1, a loopback address.*HIL_FETCH_ALLOW_HOSTS/);
  r = await submitUrl(s, `http://localhost:${port}/app.bin`);
  assertRefused(r, /resolves to .*a loopback address/);
  r = await submitUrl(s, `http://[::ffff:127.0.0.1]:${port}/app.bin`);
  assertRefused(r, /loopback/);
  for (const inside of ["10.1.2.3", "169.254.169.254", "192.168.1.1", "100.64.0.1", "0.0.0.0", "[fd00::1]", "[fe80::1]", "[::]"]) {
    assertRefused(await submitUrl(s, `http://${inside}/app.bin`), /address; the scheduler fetches only from public addresses/);
  }
  assertRefused(await submitUrl(s, "ftp://example.org/app.bin"), /ftp: URLs are not fetched/);
  assert.is(hits, 0);
  assert.is(await s.svc.context.redis.zcard(s.svc.context.keys.runs()), 0);
});

test("an allowed host is fetched into the store; redirects stay on that host unless the target is allowed", async () => {
  const s = await setup({ HIL_FETCH_ALLOW_HOSTS: "127.0.0.1" });
  let r = await submitUrl(s, `http://127.0.0.1:${port}/app.bin`);
  assert.is(r.status, 201, r.text);
  assert.ok(await s.svc.context.artifacts.has(sha(IMAGE)));
  r = await submitUrl(s, `http://127.0.0.1:${port}/hop`);
  assert.is(r.status, 201, `redirect within the host: ${r.text}`);
  r = await submitUrl(s, `http://127.0.0.1:${port}/away`);
  assertRefused(r, /redirects to another host \(localhost:\d+\).*HIL_FETCH_ALLOW_HOSTS/);
  r = await submitUrl(s, `http://127.0.0.1:${port}/missing.bin`);
  assertRefused(r, /answered 404/);

  // host:port entries: the target host may be redirected to, and may be at a loopback address
  const both = await setup({ HIL_FETCH_ALLOW_HOSTS: `127.0.0.1,localhost:${port}` });
  assert.is((await submitUrl(both, `http://127.0.0.1:${port}/away`)).status, 201);
  assertRefused(await submitUrl(both, `http://localhost:${port + 1}/app.bin`), /loopback/);
});

test("a body over HIL_UPLOAD_MAX is refused, and a slow server times out; nothing is stored", async () => {
  const s = await setup({ HIL_FETCH_ALLOW_HOSTS: "127.0.0.1", HIL_UPLOAD_MAX: "64KiB", HIL_FETCH_TIMEOUT: "1s" });
  assertRefused(await submitUrl(s, `http://127.0.0.1:${port}/big`), /larger than 65536 bytes \(HIL_UPLOAD_MAX\)/);
  assertRefused(await submitUrl(s, `http://127.0.0.1:${port}/big-declared`), /larger than 65536 bytes/);
  for (const path of ["/slow", "/silent"]) {
    const started = Date.now();
    assertRefused(await submitUrl(s, `http://127.0.0.1:${port}${path}`), /took longer than 1000 ms \(HIL_FETCH_TIMEOUT\)/);
    assert.ok(Date.now() - started < 5000, `${path} was given up in time`);
  }
  assert.equal(await filesUnder(join(s.dir, "sha256")), []);
  assert.equal(await filesUnder(join(s.dir, "tmp")), []);
  assert.is(await s.svc.context.redis.zcard(s.svc.context.keys.runs()), 0);
});

test("the artifact sweep deletes old unreferenced artifacts and stale temp files; keeps referenced, fresh and run files", async () => {
  const s = await setup();
  const { artifacts, redis: r, keys } = s.svc.context;
  const upload = async (text: string) => {
    const res = await fetch(`${s.url}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/octet-stream" }, body: text });
    assert.is(res.status, 201);
    return ((await res.json()) as { sha256: string }).sha256;
  };
  const [unused, used, fresh] = [await upload("old and unused"), await upload("old but named by a run"), await upload("new")];
  const run = await s.api("/api/v1/runs", { body: { suite: "needs-app", artifacts: { app: { sha256: used, size: 22 } } } });
  assert.is(run.status, 201, run.text);
  const eightDaysAgo = new Date(Date.now() - 8 * 86_400_000);
  for (const a of [unused, used]) await utimes(artifacts.pathOf(a), eightDaysAgo, eightDaysAgo);
  const tmpDir = join(s.dir, "tmp");
  await mkdir(tmpDir, { recursive: true });
  await writeFile(join(tmpDir, "dead-upload"), "half");
  await utimes(join(tmpDir, "dead-upload"), new Date(Date.now() - 2 * 3_600_000), new Date(Date.now() - 2 * 3_600_000));
  await writeFile(join(tmpDir, "live-upload"), "in progress");
  const runFile = join(artifacts.runDir("r-old"), "log.jsonl");
  await mkdir(artifacts.runDir("r-old"), { recursive: true });
  await writeFile(runFile, "{}\n");
  await utimes(runFile, eightDaysAgo, eightDaysAgo);

  const result = await s.svc.artifactSweeper.sweep();
  assert.equal(result, { deleted: 1, kept: 2, tempsRemoved: 1 });
  assert.not.ok(await artifacts.has(unused));
  assert.ok(await artifacts.has(used), "named by a run still in Redis");
  assert.ok(await artifacts.has(fresh));
  assert.equal((await filesUnder(tmpDir)).sort(), ["live-upload"]);
  assert.equal(await filesUnder(join(s.dir, "runs")), ["r-old/log.jsonl"]);

  // once the run is gone from Redis (pruned after HIL_RUN_RETENTION), its old artifact goes too
  const runId = (run.json as { id: string }).id;
  await r.multi().del(keys.run(runId)).zrem(keys.runs(), runId).exec();
  assert.equal(await s.svc.artifactSweeper.sweep(), { deleted: 1, kept: 1, tempsRemoved: 0 });
  assert.not.ok(await artifacts.has(used));

  // uploading an old artifact again counts as a use: the next sweep keeps it
  await utimes(artifacts.pathOf(fresh), eightDaysAgo, eightDaysAgo);
  const res = await fetch(`${s.url}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/octet-stream" }, body: "new" });
  assert.is(res.status, 200);
  assert.equal(await s.svc.artifactSweeper.sweep(), { deleted: 0, kept: 1, tempsRemoved: 0 });
});

test.run();
