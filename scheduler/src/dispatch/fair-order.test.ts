import { test } from "uvu";
import * as assert from "uvu/assert";
import { fairOrder, type PendingEntry } from "./fair-order.js";

const e = (id: string, submitter: string, priority: number, queuedAt: number): PendingEntry => ({ id, submitter, priority, queuedAt });

test("higher priority goes first whatever its age", () => {
  const order = fairOrder([e("old", "a", 10, 1), e("urgent", "b", 90, 100)], new Map());
  assert.equal(order.map((x) => x.id), ["urgent", "old"]);
});

test("a submitter with many queued runs does not starve another (round robin)", () => {
  const flood = Array.from({ length: 5 }, (_, i) => e(`a${i}`, "alice", 50, i));
  const order = fairOrder([...flood, e("b0", "bob", 50, 100)], new Map());
  assert.equal(order.slice(0, 2).map((x) => x.id).sort(), ["a0", "b0"]);
});

test("a submitter already holding boards waits behind one holding none", () => {
  const order = fairOrder([e("a0", "alice", 50, 1), e("b0", "bob", 50, 2)], new Map([["alice", 3]]));
  assert.equal(order.map((x) => x.id), ["b0", "a0"]);
});

test("age breaks ties", () => {
  const order = fairOrder([e("late", "a", 50, 20), e("early", "b", 50, 10)], new Map());
  assert.equal(order.map((x) => x.id), ["early", "late"]);
});

test("at an equal share the submitter served least recently goes first, whatever the age", () => {
  const entries = [e("a0", "alice", 50, 1), e("b0", "bob", 50, 2), e("c0", "carol", 50, 3)];
  assert.equal(fairOrder(entries, new Map(), new Map([["alice", 2], ["bob", 1]])).map((x) => x.id), ["c0", "b0", "a0"]);
  // priority still comes first
  const urgent = [e("a0", "alice", 90, 1), e("b0", "bob", 50, 2)];
  assert.equal(fairOrder(urgent, new Map(), new Map([["alice", 5]])).map((x) => x.id), ["a0", "b0"]);
});

test.run();
