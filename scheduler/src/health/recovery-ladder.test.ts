// The recovery ladder's decisions: which step comes next, what is skipped and why, when the lab gives up,
// and that a passing check returns the board whatever step it was on.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { decideRecovery, RECOVERY_STEPS, skipReason, type BoardAbilities, type LadderDecision } from "./recovery-ladder.js";

const virtualEsp32: BoardAbilities = { kind: "esp32", virtual: true, knownGoodImage: true };
const realEsp32: BoardAbilities = { kind: "esp32", virtual: false, knownGoodImage: true };
const realAndroid: BoardAbilities = { kind: "android", virtual: false, knownGoodImage: false };
const failed = { type: "check-failed", inRecovery: true, quarantined: true } as const;

/** Walks the whole ladder with every check failing: the steps taken, the skips, and how it ends. */
function walk(b: BoardAbilities): string[] {
  const out: string[] = [];
  let d: LadderDecision = decideRecovery({ type: "infra-threshold" }, undefined, b);
  for (let guard = 0; guard < 10; guard++) {
    if (d.action === "step" || d.action === "give-up") for (const s of d.skipped) out.push(`skip ${s.step}`);
    if (d.action !== "step") {
      out.push(d.action);
      return out;
    }
    out.push(d.step);
    d = decideRecovery(failed, { step: d.index }, b);
  }
  throw new Error("the ladder did not end");
}

test("a virtual ESP32 climbs reset, power-cycle, reflash, then the lab gives up", () => {
  assert.equal(walk(virtualEsp32), ["reset", "power-cycle", "reflash", "give-up"]);
});

test("a real ESP32 skips the power-cycle (no hub port control) and still reflashes", () => {
  assert.equal(walk(realEsp32), ["reset", "skip power-cycle", "reflash", "give-up"]);
  assert.match(skipReason("power-cycle", realEsp32) ?? "", /usb package is not installed/);
});

test("a real Android device has neither power control nor a known-good image: reset only", () => {
  assert.equal(walk(realAndroid), ["reset", "skip power-cycle", "skip reflash", "give-up"]);
  assert.match(skipReason("reflash", realAndroid) ?? "", /no known-good image for android/);
});

test("an ESP32 without a known-good image says which setting supplies one", () => {
  assert.match(skipReason("reflash", { kind: "esp32", virtual: false, knownGoodImage: false }) ?? "", /HIL_HEALTH_IMAGE_ESP32/);
});

test("a passing check returns the board on any rung", () => {
  for (let i = 0; i < RECOVERY_STEPS.length; i++) {
    assert.equal(decideRecovery({ type: "check-passed" }, { step: i }, virtualEsp32), { action: "return" });
  }
});

test("a failed scheduled check: an in-service board starts the ladder, a board the lab gave up on stays out", () => {
  const inService = decideRecovery({ type: "check-failed", inRecovery: false, quarantined: false }, undefined, virtualEsp32);
  assert.equal(inService, { action: "step", step: "reset", index: 0, skipped: [] });
  assert.equal(decideRecovery({ type: "check-failed", inRecovery: false, quarantined: true }, undefined, virtualEsp32), { action: "stay" });
});

test("the step after a failed check is the next rung, not the first", () => {
  assert.equal(decideRecovery(failed, { step: 0 }, virtualEsp32), { action: "step", step: "power-cycle", index: 1, skipped: [] });
  assert.equal(decideRecovery(failed, { step: 1 }, virtualEsp32), { action: "step", step: "reflash", index: 2, skipped: [] });
});

test.run();
