// Runs created in the same millisecond: paging newest first with limit N and following nextCursor shows
// every run exactly once (the cursor used to be the last run's createdAt, exclusive, so a page that ended
// inside a millisecond skipped the rest of it).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import { labKeys, RunSchema, type Run } from "@hil/contracts";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { RunStore } from "../src/store/run-store.js";

let server: PrivateRedis;
let redis: Redis;

test.before(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url);
});
test.after(async () => {
  redis?.disconnect();
  await server?.stop();
});

function run(id: string, createdAt: number): Run {
  return RunSchema.parse({ id, request: { suite: "smoke" }, submitter: "ci", state: "queued", createdAt });
}

test("paging through runs created in the same millisecond shows each once, newest first", async () => {
  const store = new RunStore(redis, labKeys("paging"));
  const ids: string[] = [];
  // 7 runs in one millisecond, then 3 in the next, then 2 earlier
  for (let i = 0; i < 7; i++) ids.push(`r-same-${i}`);
  for (const id of ids) await store.create(run(id, 1_000_000), { priority: 50, roles: {} } as never);
  for (let i = 0; i < 3; i++) await store.create(run(`r-next-${i}`, 1_000_001), { priority: 50, roles: {} } as never);
  for (let i = 0; i < 2; i++) await store.create(run(`r-before-${i}`, 999_000 + i), { priority: 50, roles: {} } as never);
  for (const limit of [1, 2, 3, 4, 5]) {
    const seen: Run[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const page = await store.list({ limit, ...(cursor !== undefined ? { cursor } : {}) });
      seen.push(...page.runs);
      if (page.nextCursor === undefined) break;
      cursor = page.nextCursor;
    }
    assert.is(seen.length, 12, `limit ${limit}: ${seen.map((r) => r.id).join(" ")}`);
    assert.is(new Set(seen.map((r) => r.id)).size, 12, `limit ${limit}: each once`);
    assert.ok(seen.every((r, i) => i === 0 || r.createdAt <= seen[i - 1]!.createdAt), "newest first");
  }
});

test.run();
