// Bookings on a real Redis with an in-test agent: the window keeps other submitters' runs off the
// board, the holder's runs still run, a booking that starts before a run would end blocks that run,
// overlaps are refused, and the board comes back by itself at the end.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { makeTempDir, waitUntil } from "@hil/test-kit";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { ADMIN, ALICE, BOB, asBooking, asError, asRun, freshNamespace, startScheduler, type Running } from "./support/harness.js";
import { FakeAgent } from "./support/fake-agent.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
const cleanups: (() => Promise<void>)[] = [];

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-book-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});
test.after.each(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function setup(boards: string[]): Promise<{ s: Running; agent: FakeAgent }> {
  const ns = freshNamespace();
  const s = await startScheduler(redis.url, ns, join(tmp.dir, ns));
  cleanups.push(() => s.svc.stop());
  const agent = new FakeAgent(redis.url, ns, "bench1", boards.map((id) => ({ id, profile: "esp32-devkitc" })));
  await agent.start();
  cleanups.push(() => agent.stop());
  return { s, agent };
}

const runOf = async (s: Running, id: string) => asRun(await s.api(`/api/v1/runs/${id}`));
async function submit(s: Running, token: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await s.api("/api/v1/runs", { body: { suite: "smoke", ...body }, token });
  assert.is(r.status, 201, r.text);
  return asRun(r).id;
}

test("an active booking keeps other submitters' runs off the board until it ends; the holder's runs still run", async () => {
  const { s, agent } = await setup(["dk1"]);
  const r = await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "6s", note: "bring-up" }, token: ALICE });
  assert.is(r.status, 201, r.text);
  const booking = asBooking(r);
  assert.is(booking.state, "active");
  assert.is(booking.holder, "alice");
  assert.is(((await s.api("/api/v1/boards/dk1")).json as { state: string; holder?: string }).holder, "alice");
  const bobs = await submit(s, BOB);
  const alices = await submit(s, ALICE);
  await waitUntil("alice's run to pass", async () => (await runOf(s, alices)).state === "passed");
  // on a very slow machine the booking may be over by now; the holdings check below still holds
  if (Date.now() < booking.end - 1000) {
    const waiting = await runOf(s, bobs);
    assert.is(waiting.state, "queued");
    assert.match(waiting.waitingFor ?? "", /booked by alice/);
  }
  await waitUntil("bob's run after the booking", async () => (await runOf(s, bobs)).state === "passed", 20_000);
  const bobHold = agent.holdings.find((h) => h.runId === bobs);
  assert.ok(bobHold && bobHold.start >= booking.end, "bob's run started inside alice's booking");
  const listed = (await s.api("/api/v1/bookings?board=dk1")).json as { bookings: { id: string; state: string }[] };
  assert.equal(listed.bookings.map((b) => [b.id, b.state]), [[booking.id, "ended"]]);
});

test("a booking that begins before a run's timeout would end keeps that run off the board; a short run fits", async () => {
  const { s } = await setup(["dk1"]);
  const start = Date.now() + 60_000;
  const r = await s.api("/api/v1/bookings", { body: { board: "dk1", start, duration: "10m" }, token: ALICE });
  assert.is(r.status, 201, r.text);
  assert.is(asBooking(r).state, "scheduled");
  const long = await submit(s, BOB, { timeoutSec: 300 });
  const short = await submit(s, BOB, { timeoutSec: 20 });
  await waitUntil("short run passes", async () => (await runOf(s, short)).state === "passed");
  const l = await runOf(s, long);
  assert.is(l.state, "queued");
  assert.match(l.waitingFor ?? "", /booked by alice/);
  // releasing the booking lets the long run go
  const rel = await s.api(`/api/v1/bookings/${asBooking(r).id}/release`, { body: {}, token: ALICE });
  assert.is(asBooking(rel).state, "released");
  await waitUntil("long run passes after release", async () => (await runOf(s, long)).state === "passed");
});

test("overlapping bookings are refused; extend checks overlap; requirements pick a free board; only the holder may change it", async () => {
  const { s } = await setup(["dk1", "dk2"]);
  const now = Date.now();
  const a = asBooking(await s.api("/api/v1/bookings", { body: { board: "dk1", start: now + 10_000, end: now + 20_000 }, token: ALICE }));
  let r = await s.api("/api/v1/bookings", { body: { board: "dk1", start: now + 15_000, end: now + 25_000 }, token: BOB });
  assert.is(r.status, 409);
  assert.match(asError(r).error, /already booked/);
  const b = asBooking(await s.api("/api/v1/bookings", { body: { board: "dk1", start: now + 20_000, duration: "10s" }, token: BOB }));
  r = await s.api(`/api/v1/bookings/${a.id}/extend`, { body: { duration: "5s" }, token: ALICE });
  assert.is(r.status, 409, "extending into bob's booking must fail");
  r = await s.api(`/api/v1/bookings/${b.id}/extend`, { body: { duration: "5s" }, token: ALICE });
  assert.is(r.status, 403);
  r = await s.api(`/api/v1/bookings/${b.id}/extend`, { body: { duration: "5s" }, token: BOB });
  assert.is(r.status, 200);
  assert.is(asBooking(r).end, b.end + 5000);
  r = await s.api("/api/v1/bookings", { body: { requirements: { profile: "esp32-devkitc" }, start: now + 12_000, duration: "5s" }, token: BOB });
  assert.is(r.status, 201, r.text);
  assert.is(asBooking(r).board, "dk2");
  r = await s.api("/api/v1/bookings", { body: { requirements: { profile: "esp32-devkitc" }, start: now + 12_000, duration: "5s" }, token: BOB });
  assert.is(r.status, 409);
  r = await s.api("/api/v1/bookings", { body: { requirements: { profile: "esp32-virtual" }, duration: "5s" }, token: BOB });
  assert.is(r.status, 422);
  const mine = (await s.api("/api/v1/bookings?holder=bob")).json as { bookings: unknown[] };
  assert.is(mine.bookings.length, 2);
});

test("a board says who holds it until when; a booking ended by someone else or by a quarantine says why", async () => {
  const { s } = await setup(["dk1", "dk2"]);
  const mine = asBooking(await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1h" }, token: ALICE }));
  const board = (await s.api("/api/v1/boards/dk1")).json as { holder?: string; holderUntil?: number; booking?: string };
  assert.equal([board.holder, board.holderUntil, board.booking], ["alice", mine.end, mine.id]);
  assert.is(mine.holderRole, "ci");

  // released by its holder: "released"; by an admin: "released-by-admin", with who did it
  const own = asBooking(await s.api(`/api/v1/bookings/${mine.id}/release`, { body: {}, token: ALICE }));
  assert.equal([own.state, own.endReason, own.releasedBy], ["released", "released", "alice"]);
  const again = asBooking(await s.api("/api/v1/bookings", { body: { board: "dk1", duration: "1h" }, token: ALICE }));
  const byAdmin = asBooking(await s.api(`/api/v1/bookings/${again.id}/release`, { body: {}, token: ADMIN }));
  assert.equal([byAdmin.endReason, byAdmin.releasedBy], ["released-by-admin", "admin"]);
  const free = (await s.api("/api/v1/boards/dk1")).json as Record<string, unknown>;
  assert.equal([free["holder"], free["holderUntil"], free["booking"]], [undefined, undefined, undefined]);

  // a quarantine takes the board back from its holder
  const held = asBooking(await s.api("/api/v1/bookings", { body: { board: "dk2", duration: "1h" }, token: BOB }));
  assert.is((await s.api("/api/v1/boards/dk2/quarantine", { body: { reason: "flaky USB" } })).status, 200);
  const taken = asBooking(await s.api(`/api/v1/bookings/${held.id}`, { token: BOB }));
  assert.equal([taken.state, taken.endReason, taken.releasedBy], ["released", "quarantined", "admin"]);
  assert.is(((await s.api("/api/v1/boards/dk2")).json as { holder?: string }).holder, undefined);
});

test.run();
