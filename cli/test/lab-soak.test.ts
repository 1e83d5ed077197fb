// The short fault suite: one round of every fault the soak injects (`npm run soak -- --minutes N` runs
// them for longer), on real processes, with the soak's invariants checked after the lab drains.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatReport } from "./soak/report.js";
import { runSoak, FAULT_KINDS } from "./soak/soak.js";

test("every fault once, runs flowing: no run lost or executed twice, right outcomes, no board left leased, every followed line stored once and in order", async () => {
  const report = await runSoak({ minutes: 0, freezeMs: 10_000, oneRound: true, say: (l) => console.log(l) });
  console.log(formatReport(report));
  for (const kind of FAULT_KINDS) assert.ok(report.injected[kind] === 1 || report.skipped[kind] !== undefined, `${kind} was injected or skipped with a reason`);
  assert.ok(report.accepted > 0);
  assert.equal(report.lost, [], "runs lost");
  assert.equal(report.executedTwice, [], "runs executed twice");
  assert.equal(report.wrongOutcome, [], "runs with a wrong outcome");
  assert.ok(report.linesAcked > 0);
  assert.equal(report.missingByRun, {}, "followed lines missing from their run's stored log");
  assert.is(report.linesMissing, 0, "followed lines missing from the lab's logs");
  assert.is(report.linesDuplicated, 0, "lines doubled");
  assert.is(report.linesOutOfOrder, 0, "lines out of order");
  assert.equal(report.leasedBoards, [], "boards left leased");
});

test.run();
