// Signed run webhooks end to end: a real scheduler with a lab webhook (HIL_WEBHOOKS) and a CI token's own
// webhook (POST /api/v1/webhooks), a local receiver that refuses the first delivery (503) and takes the
// retry; signatures checked here with node:crypto, payload fields, and a delivery that outlives a restart.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { freePort, waitUntil } from "@hil/test-kit";
import { appFile, CI_TOKEN, runIdOf, startLab, submitArgs, type Lab } from "./lab-fixture.js";

const LAB_SECRET = "lab-webhook-secret-e2e-0001";
const CI_SECRET = "ci-webhook-secret-e2e-0001";

interface Received {
  path: string;
  at: number;
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A receiver: each path answers 503 to its first `failFirst` deliveries (and while `down` holds it), then 200. */
class Receiver {
  readonly got: Received[] = [];
  readonly down = new Set<string>();
  private readonly seen = new Map<string, number>();
  private server: Server | undefined;
  port = 0;

  constructor(private readonly failFirst: number) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = req.url ?? "";
        const n = (this.seen.get(path) ?? 0) + 1;
        this.seen.set(path, n);
        const status = n <= this.failFirst || this.down.has(path) ? 503 : 200;
        const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
        this.got.push({ path, at: Date.now(), status, headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, "127.0.0.1", resolve));
  }

  /** Deliveries of one run to one path, in arrival order. */
  of(path: string, runId: string): Received[] {
    return this.got.filter((r) => r.path === path && (JSON.parse(r.body) as { run: { id: string } }).run.id === runId);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }
}

/** The receiver's check, written as docs/webhooks.md tells receivers to: HMAC-SHA256 of "<timestamp>.<raw body>". */
function verifies(secret: string, r: Pick<Received, "headers" | "body">): boolean {
  const ts = r.headers["x-hil-timestamp"] ?? "";
  const want = Buffer.from(`sha256=${createHmac("sha256", secret).update(`${ts}.${r.body}`).digest("hex")}`);
  const got = Buffer.from(r.headers["x-hil-signature"] ?? "");
  return want.length === got.length && timingSafeEqual(want, got);
}

let lab: Lab;
const receiver = new Receiver(1);

test.before(async () => {
  await receiver.start();
  lab = await startLab({
    schedulerEnv: {
      HIL_WEBHOOKS: `http://127.0.0.1:${receiver.port}/lab`,
      HIL_WEBHOOK_SECRET: LAB_SECRET,
      HIL_WEBHOOK_BACKOFF: "400ms",
      // the CI token's webhook points at the test's receiver on loopback: the lab allows exactly that port
      HIL_WEBHOOK_ALLOW_HOSTS: `127.0.0.1:${receiver.port}`,
    },
  });
  await lab.startAgent("m2", ["--instant-boards", "1"]);
});
test.after(async () => {
  await lab?.stop();
  await receiver.stop();
});

test("POST /webhooks checks its input: 400 naming the field, private hosts refused unless allowed", async () => {
  const bad = await lab.api<{ issues: { path: string }[] }>("POST", "/api/v1/webhooks", { url: "ftp://example.com/x", secret: "short" }, CI_TOKEN);
  assert.is(bad.status, 400);
  assert.equal(bad.body.issues.map((i) => i.path).sort(), ["secret", "url"]);
  for (const url of ["http://10.1.2.3/hook", "http://localhost:8080/hook", `http://127.0.0.1:${receiver.port + 1}/hook`, "http://[::1]/hook"]) {
    const r = await lab.api<{ issues: { path: string; message: string }[] }>("POST", "/api/v1/webhooks", { url, secret: CI_SECRET }, CI_TOKEN);
    assert.is(r.status, 400, url);
    assert.is(r.body.issues[0]?.path, "url");
    assert.match(r.body.issues[0]?.message ?? "", /HIL_WEBHOOK_ALLOW_HOSTS/);
  }
  const unknown = await lab.api("POST", "/api/v1/webhooks", { url: "https://example.com/x", secret: CI_SECRET, events: ["all"] }, CI_TOKEN);
  assert.is(unknown.status, 400);
  assert.is((await lab.api("DELETE", "/api/v1/webhooks/not-an-id", undefined, CI_TOKEN)).status, 400);
  assert.is((await lab.api("DELETE", "/api/v1/webhooks/00000000-0000-4000-8000-000000000000", undefined, CI_TOKEN)).status, 404);
});

test("a run's end is posted, signed, to the lab's and the submitter's webhooks; a 503 is retried with backoff", async () => {
  const created = await lab.api<{ id: string; url: string; secret?: string }>("POST", "/api/v1/webhooks", { url: `http://127.0.0.1:${receiver.port}/ci`, secret: CI_SECRET }, CI_TOKEN);
  assert.is(created.status, 201);
  assert.is(created.body.secret, undefined, "the secret is never shown");
  const listed = await lab.api<{ webhooks: { id: string; secret?: string }[] }>("GET", "/api/v1/webhooks", undefined, CI_TOKEN);
  assert.equal(listed.body.webhooks.map((w) => [w.id, w.secret]), [[created.body.id, undefined]]);

  const sub = lab.hil(submitArgs(await appFile(lab), ["--wait"]));
  assert.is(await sub.exited, 0, sub.output());
  const id = runIdOf(sub.output());

  for (const [path, secret, other] of [["/lab", LAB_SECRET, CI_SECRET], ["/ci", CI_SECRET, LAB_SECRET]] as const) {
    const [first, second] = await waitUntil(`${path}: the retry accepted`, async () => {
      const got = receiver.of(path, id);
      return got.length >= 2 ? got : undefined;
    });
    assert.is(first!.status, 503);
    assert.is(second!.status, 200);
    await new Promise((r) => setTimeout(r, 1500));
    assert.is(receiver.of(path, id).length, 2, `${path}: nothing sent after the delivery was accepted`);
    assert.ok(second!.at - first!.at >= 350, `${path}: the retry waited for its backoff (${second!.at - first!.at} ms)`);
    assert.is(second!.headers["x-hil-delivery"], first!.headers["x-hil-delivery"], "one delivery id across retries (receivers dedupe on it)");
    assert.is(second!.body, first!.body, "the same body on every attempt");
    assert.is(second!.headers["x-hil-event"], "run.finished");
    assert.is(second!.headers["content-type"], "application/json");
    for (const r of [first!, second!]) {
      assert.ok(verifies(secret, r), `${path}: the signature checks out`);
      assert.ok(Math.abs(Number(r.headers["x-hil-timestamp"]) - r.at / 1000) < 60, "the timestamp is the send time");
    }
    assert.not.ok(verifies(other, second!), `${path}: another secret does not verify it`);
    assert.not.ok(verifies(secret, { ...second!, body: second!.body.replace('"passed"', '"failed"') }), `${path}: a tampered body does not verify`);
    assert.not.ok(verifies(secret, { ...second!, headers: { ...second!.headers, "x-hil-timestamp": String(Number(second!.headers["x-hil-timestamp"]) + 1) } }), "nor a moved timestamp");

    const payload = JSON.parse(second!.body) as {
      event: string;
      run: { id: string; state: string; outcome: string; suite: string; profile: string; submitter: string; boards: Record<string, string>; attempts: number; createdAt: number; startedAt: number; endedAt: number };
      urls: { run: string; junit: string; api: string };
    };
    assert.is(payload.event, "run.finished");
    assert.equal(
      [payload.run.id, payload.run.state, payload.run.outcome, payload.run.suite, payload.run.profile, payload.run.submitter, payload.run.boards, payload.run.attempts],
      [id, "passed", "pass", "esp32-smoke", "esp32-virtual", "ci", { dut: "m2-instant-0" }, 1],
    );
    assert.ok(payload.run.createdAt <= payload.run.startedAt && payload.run.startedAt <= payload.run.endedAt, JSON.stringify(payload.run));
    assert.is(payload.urls.run, `${lab.url}/#/runs/${id}`);
    assert.is(payload.urls.api, `${lab.url}/api/v1/runs/${id}`);
    const junit = await fetch(payload.urls.junit, { headers: { authorization: `Bearer ${CI_TOKEN}` } });
    assert.is(junit.status, 200, "the JUnit link works");
    assert.match(await junit.text(), /<testsuite/);
  }
  assert.is.not(receiver.of("/lab", id)[0]?.headers["x-hil-delivery"], receiver.of("/ci", id)[0]?.headers["x-hil-delivery"], "each webhook its own delivery");

  // a deleted webhook gets nothing more
  assert.is((await lab.api("DELETE", `/api/v1/webhooks/${created.body.id}`, undefined, CI_TOKEN)).status, 204);
  const again = lab.hil(submitArgs(await appFile(lab), ["--wait"]));
  assert.is(await again.exited, 0, again.output());
  const id2 = runIdOf(again.output());
  await waitUntil("the lab's webhook got the second run", async () => receiver.of("/lab", id2).some((r) => r.status === 200));
  assert.is(receiver.of("/ci", id2).length, 0);
});

test("a delivery still failing when the scheduler restarts is sent by the new one", async () => {
  receiver.down.add("/lab");
  const sub = lab.hil(submitArgs(await appFile(lab), ["--wait"]));
  assert.is(await sub.exited, 0, sub.output());
  const id = runIdOf(sub.output());
  await waitUntil("two refused attempts", async () => receiver.of("/lab", id).length >= 2);
  // the receiver comes back while no scheduler runs: only the next process can deliver it
  await lab.scheduler.stop();
  const before = receiver.of("/lab", id).length;
  receiver.down.delete("/lab");
  await lab.restartScheduler();
  const got = await waitUntil("delivered after the restart", async () => {
    const all = receiver.of("/lab", id);
    return all.some((r) => r.status === 200) ? all : undefined;
  });
  assert.equal(new Set(got.map((r) => r.headers["x-hil-delivery"])).size, 1, "the same delivery, not a new one");
  assert.is(got.filter((r) => r.status === 200).length, 1);
  assert.is(got.length, before + 1, "the new scheduler's first attempt delivered it");
  assert.ok(verifies(LAB_SECRET, got[got.length - 1]!));
});

test.run();
