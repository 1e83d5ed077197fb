// `hil logs --follow` against a real scheduler: lines shipped by the agent's LogShipper (the code
// the agent uses), a scheduler restart in the middle, and every line printed once, in order.
import { LogShipper } from "@hil/lab-agent";
import type { LogLine } from "@hil/contracts";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { startLab } from "./lab-fixture.js";

test("hil logs --follow resumes after the scheduler restarts: no gap, no duplicate", async () => {
  const lab = await startLab();
  try {
    await lab.startAgent("lg", ["--instant-boards", "1"]);
    const board = "lg-instant-0";
    const shipper = new LogShipper(lab.redis, lab.keys);
    await shipper.init([board]);
    let n = 0;
    const ship = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const line: LogLine = { board, run: null, seq: 0, mono: n, wall: Date.now(), stream: "serial", text: `line ${++n}` };
        shipper.append(line);
      }
      await shipper.flush();
    };
    await ship(5);
    const logs = lab.hil(["logs", "--board", board, "--follow", "--json"]);
    const seqs = () =>
      logs
        .output()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => (JSON.parse(l) as LogLine).seq);
    await waitUntil("first 5 lines", async () => seqs().length >= 5, 60_000);

    await lab.scheduler.stop();
    await ship(5); // written while nobody serves the stream
    await lab.restartScheduler();
    await waitUntil("lines written during the restart", async () => seqs().length >= 10, 60_000);
    await ship(5);
    await waitUntil("lines after the restart", async () => seqs().length >= 15, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(seqs(), Array.from({ length: 15 }, (_, i) => i + 1));
    assert.match(logs.output(), /resuming after 5/);
    await logs.stop("SIGINT");
  } finally {
    await lab.stop();
  }
});

test.run();
