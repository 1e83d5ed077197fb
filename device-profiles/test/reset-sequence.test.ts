import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseResetSequence, ResetSequenceSchema } from "../src/index.js";

test("esptool-js ClassicReset as data", () => {
  assert.equal(parseResetSequence("D0|R1|W100|D1|R0|W50|D0"), [
    { op: "dtr", value: false },
    { op: "rts", value: true },
    { op: "wait", ms: 100 },
    { op: "dtr", value: true },
    { op: "rts", value: false },
    { op: "wait", ms: 50 },
    { op: "dtr", value: false },
  ]);
});

test("W is milliseconds and may be fractional; spaces around tokens are tolerated", () => {
  assert.equal(parseResetSequence(" R1 | W0.5 | R0 "), [
    { op: "rts", value: true },
    { op: "wait", ms: 0.5 },
    { op: "rts", value: false },
  ]);
});

test("bad tokens are named with their position", () => {
  assert.throws(() => parseResetSequence("D0|X1|W100"), /token 2 "X1"/);
  assert.throws(() => parseResetSequence("D2"), /token 1 "D2"/);
  assert.throws(() => parseResetSequence("U0"), /token 1 "U0"/);
  assert.throws(() => parseResetSequence("D0||R1"), /token 2 ""/);
  assert.throws(() => parseResetSequence(""), /empty reset sequence/);
  assert.not.ok(ResetSequenceSchema.safeParse("W").success);
  assert.ok(ResetSequenceSchema.safeParse("R1|W100|R0").success);
});

test.run();
