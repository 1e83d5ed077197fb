import { test } from "uvu";
import * as assert from "uvu/assert";
import { instrumentCommand } from "./android-instrument-step.js";
import { shellQuote } from "./android-step-support.js";

test("am instrument command: -r -w, extras quoted for the device shell, runner last", () => {
  assert.is(instrumentCommand({ runner: "com.x.test/androidx.test.runner.AndroidJUnitRunner", args: {} }), "am instrument -r -w com.x.test/androidx.test.runner.AndroidJUnitRunner");
  assert.is(
    instrumentCommand({ runner: "com.x.test/com.x.Runner$Inner", args: { class: "com.x.A#b,com.x.C", note: "it's here; rm -rf /" } }),
    `am instrument -r -w -e class 'com.x.A#b,com.x.C' -e note 'it'\\''s here; rm -rf /' 'com.x.test/com.x.Runner$Inner'`,
  );
});

test("shellQuote leaves plain words alone and single-quotes the rest", () => {
  assert.is(shellQuote("/data/local/tmp/a.bin"), "/data/local/tmp/a.bin");
  assert.is(shellQuote("a b"), "'a b'");
  assert.is(shellQuote("$HOME"), "'$HOME'");
  assert.is(shellQuote(""), "''");
});

test.run();
