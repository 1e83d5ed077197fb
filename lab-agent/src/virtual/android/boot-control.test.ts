import { test } from "uvu";
import * as assert from "uvu/assert";
import { BootControl, MAX_TRIES } from "./boot-control.js";

const vars = (bc: BootControl) => Object.fromEntries(bc.variables());

test("set_active gives the slot top priority, fresh tries and clears successful; the other slot keeps its state", () => {
  const bc = new BootControl();
  assert.is(bc.active, "a");
  bc.setActive("b");
  assert.is(bc.active, "b");
  assert.equal(bc.metadata("b"), { priority: 15, triesRemaining: MAX_TRIES, successful: false });
  assert.equal(bc.metadata("a"), { priority: 14, triesRemaining: 0, successful: true });
  bc.setActive("a");
  assert.is(bc.active, "a");
  assert.is(bc.metadata("b").priority, 14);
});

test("a good new slot spends one try, then is proven by markSuccessful", () => {
  const bc = new BootControl();
  bc.setActive("b");
  const choice = bc.chooseBootSlot(() => true);
  assert.equal(choice, { slot: "b", attempts: [{ slot: "b", triesLeft: MAX_TRIES - 1, booted: true }], markedUnbootable: [] });
  bc.markSuccessful("b");
  assert.equal(vars(bc), {
    "current-slot": "b",
    "slot-count": "2",
    "slot-successful:a": "yes",
    "slot-unbootable:a": "no",
    "slot-retry-count:a": "0",
    "slot-successful:b": "yes",
    "slot-unbootable:b": "no",
    "slot-retry-count:b": "0",
  });
});

test("a new slot that never boots uses up its tries, becomes unbootable, and the old slot boots", () => {
  const bc = new BootControl();
  bc.setActive("b");
  const choice = bc.chooseBootSlot((s) => s === "a");
  assert.is(choice.slot, "a");
  assert.equal(choice.attempts.filter((x) => x.slot === "b").map((x) => x.triesLeft), [6, 5, 4, 3, 2, 1, 0]);
  assert.equal(choice.markedUnbootable, ["b"]);
  assert.is(bc.active, "a");
  assert.is(vars(bc)["slot-unbootable:b"], "yes");
  assert.is(vars(bc)["slot-successful:a"], "yes");
  bc.setActive("b");
  assert.is(vars(bc)["slot-unbootable:b"], "no", "set_active revives an unbootable slot");
});

test("neither slot boots: no slot, both unbootable", () => {
  const bc = new BootControl();
  const choice = bc.chooseBootSlot(() => false);
  assert.is(choice.slot, null);
  assert.equal(choice.markedUnbootable, ["a", "b"]);
  assert.ok(bc.isUnbootable("a") && bc.isUnbootable("b"));
  bc.markSuccessful("a");
  assert.is(bc.metadata("a").successful, false, "an unbootable slot cannot be marked successful");
});

test.run();
