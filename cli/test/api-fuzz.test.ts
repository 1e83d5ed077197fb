// Fuzzing the running scheduler from its OpenAPI document: thousands of random and malformed requests
// to every route, with and without valid tokens. Pass = no 5xx, no crash, no file written outside the
// data directory, and afterwards the lab still runs a real `hil run` on a virtual ESP32 to a passing JUnit.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import fc from "fast-check";
import { buildEsp32Image } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ADMIN_TOKEN, CI_TOKEN, startLab, TERMINAL, type Lab } from "./lab-fixture.js";
import { operationsOf, requests, type FuzzRequest } from "./openapi-requests.js";

const COUNT = Number(process.env.HIL_FUZZ_REQUESTS ?? 3000);
const SEED = Number(process.env.HIL_FUZZ_SEED ?? Date.now() % 2 ** 31);

let lab: Lab;

test.before(async () => {
  // every garbage token would count against the caller's address: lift that limit for the fuzzer
  lab = await startLab({ schedulerEnv: { HIL_AUTH_FAIL_LIMIT: "1000000", HIL_SUBMIT_LIMIT: "1000000", HIL_UPLOAD_MAX: "4MiB" } });
  await lab.startAgent("fz", ["--virtual", "esp32=1"]);
});
test.after(async () => {
  await lab?.stop();
});

async function filesUnder(dir: string, skip: (rel: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (skip(rel)) continue;
      if (e.isDirectory()) await walk(p);
      else out.push(rel);
    }
  };
  await walk(dir);
  return out.sort();
}

async function send(r: FuzzRequest): Promise<number> {
  const res = await fetch(`${lab.url}${r.path}`, { method: r.method, headers: r.headers, ...(r.body !== undefined ? { body: r.body } : {}), signal: AbortSignal.timeout(30_000) });
  // SSE answers stay open: the status is all we need
  await res.body?.cancel().catch(() => {});
  return res.status;
}

test(`fuzz: ${COUNT} generated requests across every route; no 5xx, no crash, no stray file, a real run passes after`, async () => {
  const doc = (await lab.api<{ paths: Record<string, Record<string, Record<string, unknown>>> }>("GET", "/api/v1/openapi.json")).body;
  const ops = operationsOf(doc);
  assert.ok(ops.length >= 30, `the document lists ${ops.length} operations`);
  const viewer = (await lab.api<{ token: string }>("POST", "/api/v1/tokens", { name: "fuzz-viewer", role: "viewer" })).body.token;
  const boards = (await lab.api<{ boards: { id: string }[] }>("GET", "/api/v1/boards")).body.boards.map((b) => b.id);
  const upload = await fetch(`${lab.url}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: Buffer.from("fuzz artifact") });
  const { sha256 } = (await upload.json()) as { sha256: string };
  const known = { id: [...boards, "r-0-00000000", "bk-0-000000", "0123456789abcdef"], sha256: [sha256], name: ["fuzz-viewer", "nobody"] };
  const before = await filesUnder(lab.dir, (rel) => rel.startsWith("artifacts") || rel.startsWith("cache-"));

  const samples = fc.sample(requests(ops, [ADMIN_TOKEN, ADMIN_TOKEN, CI_TOKEN, CI_TOKEN, viewer, viewer, "", "constructor", "__proto__", "hil_0000000000000000_" + "A".repeat(43)], known), { numRuns: COUNT, seed: SEED });
  const statuses = new Map<number, number>();
  const routes = new Set<string>();
  const failures: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < samples.length) {
      const r = samples[next++];
      if (!r) break;
      if (process.env.HIL_FUZZ_TRACE) process.stderr.write(`${next} ${r.method} ${r.path.slice(0, 120)}\n`);
      routes.add(`${r.method} ${r.op.path}`);
      let status: number;
      try {
        status = await send(r);
      } catch (err) {
        status = 0;
        failures.push(`${r.method} ${r.path.slice(0, 200)} → no answer (${(err as Error).message})`);
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500) failures.push(`${r.method} ${r.path.slice(0, 200)} [${r.headers["content-type"] ?? "-"}] body ${String(r.body ?? "").slice(0, 200)} → ${status}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const codes = [...statuses.entries()].sort((a, b) => a[0] - b[0]).map(([c, n]) => `${c}×${n}`).join(" ");
  process.stderr.write(`fuzz: requests done\n`);
  console.log(`fuzz: seed ${SEED}, ${samples.length} requests, ${routes.size} of ${ops.length} operations, statuses ${codes}`);
  assert.equal(failures.slice(0, 20), [], `seed ${SEED}: ${failures.length} bad answers`);
  assert.is(routes.size, ops.length, "every operation was exercised");
  assert.is(lab.scheduler.child.exitCode, null, "the scheduler is still running");
  assert.is((await fetch(`${lab.url}/healthz`)).status, 200);
  const after = await filesUnder(lab.dir, (rel) => rel.startsWith("artifacts") || rel.startsWith("cache-"));
  assert.equal(after, before, "no file appeared outside the data directory");

  // undo what the admin token's random calls may have done to the lab, then run for real
  const { body: bs } = await lab.api<{ boards: { id: string; state: string }[] }>("GET", "/api/v1/boards");
  for (const b of bs.boards) if (b.state === "quarantined") await lab.api("POST", `/api/v1/boards/${b.id}/release-quarantine`);
  const { body: bks } = await lab.api<{ bookings: { id: string; state: string }[] }>("GET", "/api/v1/bookings");
  for (const b of bks.bookings) if (b.state === "scheduled" || b.state === "active") await lab.api("POST", `/api/v1/bookings/${b.id}/release`);
  const { body: rs } = await lab.api<{ runs: { id: string; state: string }[] }>("GET", "/api/v1/runs?limit=500");
  for (const r of rs.runs) if (!TERMINAL.has(r.state)) await lab.api("POST", `/api/v1/runs/${r.id}/cancel`);

  process.stderr.write("fuzz: lab cleaned up, running a real run\n");
  const app = join(lab.dir, "after-fuzz.bin");
  await writeFile(app, buildEsp32Image({ appDesc: { projectName: "after_fuzz", version: "1.0.0" }, scenario: { kind: "console" } }));
  const junit = join(lab.dir, "after-fuzz.xml");
  const run = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "2m", "--wait", "--junit", junit], CI_TOKEN);
  assert.is(await run.exited, 0, run.output());
  const xml = await readFile(junit, "utf8");
  assert.match(xml, /<testsuite[^>]*\bfailures="0"/);
  assert.not.match(xml, /<failure|<error/);
});

test.run();
