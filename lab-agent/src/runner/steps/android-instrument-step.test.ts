import { test } from "uvu";
import * as assert from "uvu/assert";
import type { CaseResult } from "@hil/contracts";
import { applyDeclaredFailures, instrumentCommand } from "./android-instrument-step.js";
import { shellQuote } from "./android-step-support.js";

test("am instrument command: -r -w, extras quoted for the device shell, runner last", () => {
  assert.is(instrumentCommand({ runner: "com.x.test/androidx.test.runner.AndroidJUnitRunner", args: {} }), "am instrument -r -w com.x.test/androidx.test.runner.AndroidJUnitRunner");
  assert.is(
    instrumentCommand({ runner: "com.x.test/com.x.Runner$Inner", args: { class: "com.x.A#b,com.x.C", note: "it's here; rm -rf /" } }),
    `am instrument -r -w -e class 'com.x.A#b,com.x.C' -e note 'it'\\''s here; rm -rf /' 'com.x.test/com.x.Runner$Inner'`,
  );
});

test("expectFailures: a declared test that fails passes, one that passes fails, one that never ran is reported", () => {
  const c = (name: string, outcome: CaseResult["outcome"], message?: string): CaseResult => ({ name, group: "com.x.LinkTest", outcome, durationMs: 1, ...(message ? { message } : {}) });
  const cases = [c("talks", "fail", "java.lang.AssertionError: refused"), c("reads", "pass"), c("other", "fail", "boom")];
  const declared = applyDeclaredFailures(cases, [
    { test: "com.x.LinkTest#talks", reason: "protocol 1 only" },
    { test: "com.x.LinkTest#reads", reason: "no version read in 1.x" },
    { test: "com.x.LinkTest#gone", reason: "removed" },
  ]);
  assert.equal(
    declared.cases.map((k) => [k.name, k.outcome, k.message]),
    [
      ["talks", "pass", "failed as declared (protocol 1 only): java.lang.AssertionError: refused"],
      ["reads", "fail", "declared to fail (no version read in 1.x) but passed: the expected incompatibility is gone; update expectFailures"],
      ["other", "fail", "boom"],
    ],
  );
  assert.is(declared.matched, 1);
  assert.equal(declared.missing, ["com.x.LinkTest#gone"]);
  assert.is(applyDeclaredFailures(cases, []).cases, cases, "nothing declared: the results as they are");
});

test("shellQuote leaves plain words alone and single-quotes the rest", () => {
  assert.is(shellQuote("/data/local/tmp/a.bin"), "/data/local/tmp/a.bin");
  assert.is(shellQuote("a b"), "'a b'");
  assert.is(shellQuote("$HOME"), "'$HOME'");
  assert.is(shellQuote(""), "''");
});

test.run();
