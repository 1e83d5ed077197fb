import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnHil } from "@hil/test-kit";

test("hil --help lists the command and exits 0", async () => {
  const p = spawnHil(["--help"]);
  assert.is(await p.exited, 0);
  assert.match(p.output(), /Usage: hil/);
});

test("an unknown option is a usage error (64)", async () => {
  const p = spawnHil(["--no-such-option"]);
  assert.is(await p.exited, 64);
  assert.match(p.output(), /unknown option/);
});

test.run();
