import { test } from "uvu";
import * as assert from "uvu/assert";
import { deriveEventKey, signEvent, verifyEventSignature } from "./event-signature.js";

const json = JSON.stringify({ type: "board-gone", agent: "lab-1", boardId: "dk1", reason: "unplugged" });

test("the event key is derived from the token alone, and differs per token", () => {
  assert.is(deriveEventKey("token-a"), deriveEventKey("token-a"));
  assert.match(deriveEventKey("token-a"), /^[0-9a-f]{64}$/);
  assert.is.not(deriveEventKey("token-a"), deriveEventKey("token-b"));
  assert.is.not(deriveEventKey("token-a"), "token-a");
});

test("a signature verifies only for the same key, agent and bytes", () => {
  const key = deriveEventKey("token-a");
  const sig = signEvent(key, "lab-1", json);
  assert.ok(verifyEventSignature(key, "lab-1", json, sig));
  assert.not.ok(verifyEventSignature(deriveEventKey("token-b"), "lab-1", json, sig), "another agent's key");
  assert.not.ok(verifyEventSignature(key, "lab-2", json, sig), "the same bytes claimed by another agent");
  assert.not.ok(verifyEventSignature(key, "lab-1", json.replace("unplugged", "unplugged "), sig), "changed payload");
  assert.not.ok(verifyEventSignature(key, "lab-1", json, sig.slice(0, 63)), "truncated signature");
  assert.not.ok(verifyEventSignature(key, "lab-1", json, ""), "no signature");
  assert.not.ok(verifyEventSignature(key, "lab-1", json, "Z".repeat(64)), "not hex");
});

test.run();
