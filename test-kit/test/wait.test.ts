// The kit's polling wait: what every package's tests lean on to stay independent of machine speed.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { sleep, waitUntil } from "../src/index.js";

test("resolves with the first value that is neither undefined nor false", async () => {
  let calls = 0;
  const value = await waitUntil("the third call", () => (++calls >= 3 ? { calls } : undefined), 5000, 5);
  assert.equal(value, { calls: 3 });
  assert.is(await waitUntil("a true condition", () => true), true);
  assert.is(await waitUntil("zero, which is a value", async () => 0), 0);
});

test("a throwing check counts as not yet; the timeout names what it waited for and the last error", async () => {
  let calls = 0;
  assert.is(await waitUntil("a check that throws twice", () => (++calls < 3 ? Promise.reject(new Error("not yet")) : "ok"), 5000, 5), "ok");
  const started = Date.now();
  const err = await waitUntil("the impossible", () => {
    throw new Error("redis is down");
  }, 150, 10).then(
    () => undefined,
    (e: Error) => e,
  );
  assert.ok(err, "it rejects");
  assert.match(err!.message, /timed out after 150 ms waiting for the impossible \(last error: redis is down\)/);
  assert.ok(Date.now() - started >= 150, "not before the timeout");
});

test("sleep waits at least as long as asked", async () => {
  const started = Date.now();
  await sleep(30);
  assert.ok(Date.now() - started >= 29);
});

test.run();
