// Bookings that ended leave their board's calendar (the lease script scans it on every claim) and are
// deleted after HIL_BOOKING_RETENTION; until then they stay readable. Real redis-server.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { join } from "node:path";
import { pino } from "pino";
import type { Booking } from "@hil/contracts";
import { makeTempDir } from "@hil/test-kit";
import { createSchedulerApp } from "../src/app.js";
import { loadSchedulerConfig } from "../src/config.js";
import type { SchedulerContext } from "../src/context.js";
import { Reaper } from "../src/dispatch/reaper.js";
import { RunLifecycle } from "../src/dispatch/run-lifecycle.js";
import { BookingStore } from "../src/store/booking-store.js";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { ADMIN, freshNamespace, TEST_CATALOG } from "./support/harness.js";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };

test.before(async () => {
  redis = await startPrivateRedis();
  tmp = await makeTempDir("hil-sched-bookings-");
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});

const HOUR = 3_600_000;

test("ended bookings leave the board's calendar, stay readable for the retention, then go", async () => {
  const ns = freshNamespace();
  const config = loadSchedulerConfig({ REDIS_URL: redis.url, HIL_NAMESPACE: ns, HIL_ADMIN_TOKEN: ADMIN, HIL_ARTIFACT_DIR: join(tmp.dir, ns), HIL_PORT: "0", HIL_BOOKING_RETENTION: "7d" });
  const svc = createSchedulerApp(config, { catalog: TEST_CATALOG, logger: pino({ level: "silent" }) });
  const ctx: SchedulerContext = { ...svc.context, wake: () => {} };
  const lifecycle = new RunLifecycle(ctx);
  const reaper = new Reaper(ctx, lifecycle);
  try {
    const now = Date.now();
    const past: Booking[] = [];
    // a month of two-hour bookings on one board, all over, and one still to come
    for (let i = 0; i < 300; i++) {
      const start = now - 30 * 24 * HOUR + i * 2 * HOUR;
      past.push({ id: BookingStore.newId() + i, board: "b1", holder: "qa", start, end: start + HOUR, state: "scheduled", createdAt: start - HOUR });
    }
    for (const b of past) await ctx.bookings.put(b, b.start - 1);
    const next: Booking = { id: BookingStore.newId(), board: "b1", holder: "qa", start: now + HOUR, end: now + 2 * HOUR, state: "scheduled", createdAt: now };
    await ctx.bookings.put(next, now);
    assert.is(await ctx.redis.zcard(ctx.keys.boardBookings("b1")), 301);

    await reaper.sweep(now);
    assert.equal(await ctx.redis.zrange(ctx.keys.boardBookings("b1"), "0", "-1"), [next.id], "only the booking still to come is on the board's calendar");
    const recent = past[past.length - 1] as Booking; // ended five days ago, within the retention (a week)
    const old = past[0] as Booking; // ended a month ago
    assert.is((await ctx.bookings.get(recent.id, now))?.state, "ended", "an ended booking stays readable during the retention");
    assert.is(await ctx.bookings.get(old.id, now), undefined, "past the retention it is gone");
    assert.ok((await ctx.redis.zcard(ctx.keys.bookings())) < 30, "and gone from the list of all bookings");
    assert.is((await ctx.bookings.get(next.id, now))?.state, "scheduled");
  } finally {
    await lifecycle.drain();
    await svc.stop();
  }
});

test.run();
