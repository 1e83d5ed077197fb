// LineSpool: lines past the memory bound go to the spill file and come back in order, whole (multi-byte text cut
// by a read chunk's end included), lines put back go first, and the file goes once read back.
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LogLine } from "@hil/contracts";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LineSpool } from "./line-spool.js";

const line = (seq: number): LogLine => ({ board: "a", run: "r1", seq, mono: seq, wall: 1_700_000_000_000 + seq, stream: "serial", text: `é€😀 line ${seq} ${"x".repeat(seq % 300)}` });

test("20,000 lines through a spool of 100: every line back whole and in order, put-back lines first, the file gone at the end", async () => {
  const dir = await mkdtemp(join(tmpdir(), "hil-spool-"));
  const file = join(dir, "spool.jsonl");
  try {
    const spool = new LineSpool({ maxInMemory: 100, file });
    const out: LogLine[] = [];
    let next = 1;
    let sawFile = false;
    while (next <= 20_000 || spool.length > 0) {
      for (let i = 0; i < 700 && next <= 20_000; i++) spool.push(line(next++));
      sawFile ||= existsSync(file);
      const taken = spool.take(333);
      // a write that failed: its lines go back in front and are taken again
      if (taken.length > 10 && next % 3 === 0) {
        spool.putBack(taken.slice(5));
        out.push(...taken.slice(0, 5));
      } else out.push(...taken);
    }
    assert.ok(sawFile, "lines past the bound were spilled");
    assert.is(out.length, 20_000);
    out.forEach((l, i) => assert.equal(l, line(i + 1)));
    assert.not.ok(existsSync(file), "the spill file goes once it is read back");
    spool.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
