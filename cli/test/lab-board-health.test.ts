// End to end with real processes: board health that heals. A virtual ESP32 unplugged through its control
// socket fails three runs in a row with infrastructure errors; the lab quarantines it, climbs the recovery
// ladder (reset: the board stays silent, its check fails; power-cycle: it is back, its check passes) and
// returns it to service on its own. Its history, through the API and `hil boards show`, has every step in order.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { BoardHistoryEntry, Run } from "@hil/contracts";
import { buildEsp32Image, ControlSocketReset } from "@hil/lab-agent";
import { waitUntil } from "@hil/test-kit";
import { CI_TOKEN, runIdOf, startLab, TERMINAL, type Lab } from "./lab-fixture.js";

const BOARD = "h1-vesp32-0";

async function finished(lab: Lab, id: string): Promise<Run> {
  return waitUntil(`run ${id} finished`, async () => {
    const r = await lab.getRun(id);
    return TERMINAL.has(r.state) ? r : undefined;
  }, 180_000);
}

async function submit(lab: Lab, app: string): Promise<string> {
  const sub = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--board", BOARD, "--artifact", `app=${app}`, "--max-attempts", "1"]);
  assert.is(await sub.exited, 0, sub.output());
  return runIdOf(sub.output());
}

async function history(lab: Lab, token?: string): Promise<BoardHistoryEntry[]> {
  const res = await lab.api<{ entries: BoardHistoryEntry[] }>("GET", `/api/v1/boards/${BOARD}/history?limit=200`, undefined, token);
  assert.is(res.status, 200, JSON.stringify(res.body));
  return res.body.entries;
}

const label = (e: BoardHistoryEntry) => (e.outcome ? `${e.kind} ${e.outcome}` : e.kind);

test("three infrastructure failures: quarantined, reset, check fails, power-cycle, check passes, back in service", async () => {
  const lab = await startLab();
  try {
    const ctl = join(lab.dir, "ctl");
    await lab.startAgent("h1", ["--virtual", "esp32=1", "--virtual-control", ctl]);
    const app = join(lab.dir, "app.bin");
    await writeFile(app, buildEsp32Image({ appDesc: { projectName: "user_app", version: "1.0.0" }, scenario: { kind: "idle" } }));
    // the board vanishes from its port: every flash finds no ROM loader (SYNC_FAILED, an infrastructure error)
    assert.match(await new ControlSocketReset(join(ctl, `${BOARD}.ctl`)).command("unplug"), /^ok/);

    const failedRuns: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await submit(lab, app);
      const run = await finished(lab, id);
      assert.is(run.state, "error", JSON.stringify(run.error));
      assert.ok(run.purpose === undefined, "a user's run is not marked as a health check");
      failedRuns.push(id);
    }

    // quarantined by the third failure, then healed without anyone's help
    await waitUntil("the board quarantined", async () => (await history(lab)).some((e) => e.kind === "quarantined"), 60_000);
    const back = await waitUntil(
      "the board back in service",
      async () => {
        const b = await lab.api<{ state: string }>("GET", `/api/v1/boards/${BOARD}`);
        const h = await history(lab);
        return b.body.state === "idle" && h.some((e) => e.kind === "returned") ? h : undefined;
      },
      300_000,
    );

    const oldestFirst = [...back].reverse();
    assert.equal(oldestFirst.map(label), [
      "infra-failure",
      "infra-failure",
      "infra-failure",
      "quarantined",
      "reset done",
      "health-check started",
      "health-check failed",
      "power-cycle done",
      "health-check started",
      "health-check passed",
      "returned",
    ]);
    assert.equal(oldestFirst.slice(0, 3).map((e) => e.run), failedRuns);
    assert.match(oldestFirst[0]!.detail, /SYNC_FAILED/);
    assert.is(oldestFirst[3]!.run, failedRuns[2]);
    assert.match(oldestFirst[3]!.detail, /3 infrastructure failures in a row/);
    assert.match(oldestFirst[7]!.detail, /power-cycled/);
    const entriesAt = back.map((e) => e.at);
    assert.equal(entriesAt, [...entriesAt].sort((a, b) => b - a), "newest first");

    // the checks are runs of the health-check suite on that board, marked, and nobody's
    const checkRuns = oldestFirst.filter((e) => e.kind === "health-check" && e.outcome !== "started").map((e) => e.run ?? "");
    assert.is(checkRuns.length, 2);
    for (const id of checkRuns) {
      const r = await lab.getRun(id);
      assert.is(r.purpose, "health-check");
      assert.is(r.submitter, "lab:health");
      assert.is(r.request.suite, "esp32-health");
      assert.equal(Object.values(r.boards), [BOARD]);
    }
    const [firstCheck, secondCheck] = await Promise.all(checkRuns.map((id) => lab.getRun(id)));
    assert.is(firstCheck!.state, "error");
    assert.is(secondCheck!.state, "passed");
    // health checks are the lab's runs, not the user's: fair share counts them under lab:health only
    const mine = await lab.api<{ runs: Run[] }>("GET", "/api/v1/runs?submitter=ci&limit=50");
    assert.equal(mine.body.runs.map((r) => r.id).sort(), [...failedRuns].sort());
    const lab_ = await lab.api<{ runs: Run[] }>("GET", `/api/v1/runs?submitter=${encodeURIComponent("lab:health")}&limit=50`);
    assert.equal(lab_.body.runs.map((r) => r.id).sort(), [...checkRuns].sort());

    const runs = lab.hil(["runs", "--limit", "20"]);
    assert.is(await runs.exited, 0, runs.output());
    assert.match(runs.output(), new RegExp(`${checkRuns[1]}\\s+esp32-health \\(health check\\)\\s+passed\\s+lab:health`));

    // a viewer may read the history; `hil boards show` prints it, oldest step last in the list
    const viewer = (await lab.api<{ token: string }>("POST", "/api/v1/tokens", { name: "health-viewer", role: "viewer" })).body.token;
    assert.is((await history(lab, viewer)).length, back.length);
    const show = lab.hil(["boards", "show", BOARD], viewer);
    assert.is(await show.exited, 0, show.output());
    const out = show.output();
    assert.match(out, /state\s+idle/);
    const order = ["returned", "health-check passed", "power-cycle done", "health-check failed", "reset done", "quarantined", "infra-failure"].map((w) => out.indexOf(`  ${w}`));
    assert.ok(order.every((i) => i >= 0), out);
    assert.equal(order, [...order].sort((a, b) => a - b), `history out of order:\n${out}`);
    const json = lab.hil(["boards", "show", BOARD, "--json"], CI_TOKEN);
    assert.is(await json.exited, 0, json.output());
    const parsed = JSON.parse(json.output()) as { board: { id: string; state: string }; history: BoardHistoryEntry[] };
    assert.is(parsed.board.id, BOARD);
    assert.equal(parsed.history.map(label), back.map(label));

    // and it takes ordinary runs again
    const after = await finished(lab, await submit(lab, app));
    assert.is(after.state, "passed", JSON.stringify(after.error));
  } finally {
    await lab.stop();
  }
});

test("scheduled checks of idle boards (ESP32: known-good image to app_main; Android: booted, shell round trip); an admin's quarantine is never lifted by one; bad history requests are 4xx", async () => {
  const lab = await startLab({ schedulerEnv: { HIL_HEALTH_CHECK_INTERVAL: "10s" } });
  const board = "h2-vesp32-0";
  const historyOf = async () => (await lab.api<{ entries: BoardHistoryEntry[] }>("GET", `/api/v1/boards/${board}/history`)).body.entries;
  try {
    await lab.startAgent("h2", ["--virtual", "esp32=1,android=1"]);
    const android = await waitUntil(
      "the Android board's scheduled check passed",
      async () => (await lab.api<{ entries: BoardHistoryEntry[] }>("GET", "/api/v1/boards/h2-vandroid-0/history")).body.entries.find((e) => e.kind === "health-check" && e.outcome === "passed"),
      120_000,
    );
    const androidRun = await lab.getRun(android.run ?? "");
    assert.is(androidRun.request.suite, "android-health");
    assert.equal(androidRun.steps.map((x) => x.outcome), ["pass", "pass"]);
    const passed = await waitUntil("a scheduled check passed", async () => (await historyOf()).find((e) => e.kind === "health-check" && e.outcome === "passed"), 120_000);
    const started = (await historyOf()).find((e) => e.kind === "health-check" && e.outcome === "started" && e.run === passed.run);
    assert.match(started?.detail ?? "", /scheduled/);
    assert.is((await lab.getRun(passed.run ?? "")).purpose, "health-check");
    assert.ok(!(await historyOf()).some((e) => e.kind === "quarantined" || e.kind === "returned"), "a passing scheduled check changes nothing");

    const q = await lab.api("POST", `/api/v1/boards/${board}/quarantine`, { reason: "bench rewiring" });
    assert.is(q.status, 200);
    const marked = (await historyOf())[0];
    assert.is(marked?.kind, "quarantined");
    assert.match(marked?.detail ?? "", /admin: bench rewiring/);
    // two intervals: no check is started for it, and it stays out
    await new Promise((r) => setTimeout(r, 25_000));
    const since = (await historyOf()).filter((e) => e.at > (marked?.at ?? 0));
    assert.equal(since, [], JSON.stringify(since));
    assert.is((await lab.api<{ state: string }>("GET", `/api/v1/boards/${board}`)).body.state, "quarantined");
    assert.is((await lab.api("POST", `/api/v1/boards/${board}/release-quarantine`, {})).status, 200);
    const released = (await historyOf())[0];
    assert.is(released?.kind, "returned");
    assert.match(released?.detail ?? "", /released by admin/);

    const missing = await lab.api<{ error: string }>("GET", "/api/v1/boards/no-such-board/history");
    assert.is(missing.status, 404);
    const bad = await lab.api("GET", `/api/v1/boards/${board}/history?limit=0`);
    assert.is(bad.status, 400);
    assert.match(JSON.stringify(bad.body), /limit/);
    const show = lab.hil(["boards", "show", board, "--limit", "x"]);
    assert.is(await show.exited, 64, show.output());
    assert.match(show.output(), /--limit/);
  } finally {
    await lab.stop();
  }
});

test.run();
