// A board's health history on a real Redis: newest first, bounded by LTRIM in the same step as each push,
// under the lab's {namespace} hash tag, and an entry that is not one is skipped rather than failing the read.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import { labKeys } from "@hil/contracts";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";
import { BoardHistory } from "../src/store/board-history.js";
import { freshNamespace } from "./support/harness.js";

let server: PrivateRedis;
let redis: Redis;

test.before(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url);
});

test.after(async () => {
  redis.disconnect();
  await server.stop();
});

test("newest first, at most `max` entries kept, in a scheduler-only key with the namespace's hash tag", async () => {
  const ns = freshNamespace();
  const keys = labKeys(ns);
  const history = new BoardHistory(redis, keys, 5);
  for (let i = 0; i < 8; i++) await history.add("b1", { kind: "infra-failure", detail: `failure ${i}`, run: `r-${i}`, at: 1000 + i });
  await history.add("b1", { kind: "returned", detail: "its health check passed", at: 2000 });
  const key = keys.boardHistory("b1");
  assert.ok(key.startsWith(`{${ns}}:`), key);
  assert.not.ok(key.startsWith(keys.board("")), "outside the agents' board:* key pattern");
  assert.is(await redis.llen(key), 5);
  const entries = await history.list("b1", 50);
  assert.equal(entries.map((e) => e.detail), ["its health check passed", "failure 7", "failure 6", "failure 5", "failure 4"]);
  assert.equal(entries[1], { at: 1007, kind: "infra-failure", detail: "failure 7", run: "r-7" });
  assert.equal((await history.list("b1", 2)).length, 2);
  assert.equal(await history.list("other"), []);
});

test("an entry that is not a history entry is skipped", async () => {
  const keys = labKeys(freshNamespace());
  const history = new BoardHistory(redis, keys);
  await history.add("b2", { kind: "reset", outcome: "done", detail: "reset done", at: 1 });
  await redis.lpush(keys.boardHistory("b2"), "not json", JSON.stringify({ kind: "nonsense" }));
  assert.equal(await history.list("b2"), [{ at: 1, kind: "reset", outcome: "done", detail: "reset done" }]);
});

test.run();
