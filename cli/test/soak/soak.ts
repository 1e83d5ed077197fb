// The fault soak: a lab on real processes (redis-server with its append-only file, `hil scheduler`, two
// `hil agent`s hosting virtual ESP32s) kept busy with runs while faults are injected one after another;
// then every invariant the lab promises is checked and counted. `npm run soak -- --minutes N` runs it
// long; cli/test/lab-soak.test.ts runs one round of every fault.
import { randomUUID } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LogLine, Run } from "@hil/contracts";
import { buildEsp32Image, ControlSocketReset } from "@hil/lab-agent";
import { Redis } from "ioredis";
import { sleep, waitUntil } from "@hil/test-kit";
import type { SoakReport } from "./report.js";
import { ADMIN_TOKEN, CI_TOKEN, startLab, TERMINAL, type Lab } from "../lab-fixture.js";

export const FAULT_KINDS = [
  "agent-kill-mid-flash",
  "agent-kill-mid-test",
  "link-drop-mid-flash",
  "redis-kill-restart",
  "redis-freeze",
  "scheduler-kill-after-claim",
  "scheduler-kill",
  "full-artifact-disk",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** The firmware a run carries, and the outcomes that are right for it. */
const WORKLOADS = {
  good: { scenario: { kind: "console" }, right: ["passed"] },
  bootloop: { scenario: { kind: "bootloop" }, right: ["failed"] },
  hang: { scenario: { kind: "hang", afterMs: 300, watchdogMs: 1500 }, right: ["failed"] },
} as const;
type Workload = keyof typeof WORKLOADS;

export interface SoakOptions {
  /** How long faults are injected; then the lab drains and is checked. */
  minutes: number;
  /** How long redis-server stays frozen. */
  freezeMs: number;
  /** Faults to inject, in turn; every kind when absent. */
  faults?: readonly FaultKind[];
  /** Stop injecting after one round of `faults` (the short suite in `npm test`). */
  oneRound?: boolean;
  say?: (line: string) => void;
  /** Where to write what a failed invariant needs to be read: the agents' records, the runs involved, the lines followers saw. */
  dumpDir?: string;
}


interface Accepted {
  id: string;
  workload: Workload;
}

const AGENTS = ["s1", "s2"] as const;
const AGENT_ARGS = ["--virtual", "esp32=2", "--pace"];
/** Each agent's virtual boards get control sockets here (unplug, power-cycle), for link faults. */
const controlDir = (lab: Lab, agent: string) => join(lab.dir, `ctl-${agent}`);
const agentArgs = (lab: Lab, agent: string) => [...AGENT_ARGS, "--virtual-control", controlDir(lab, agent)];
const IN_FLIGHT = 5;

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const say = opts.say ?? (() => undefined);
  const faults = opts.faults ?? FAULT_KINDS;
  const lab = await startLab({ persist: true, schedulerEnv: { HIL_SUBMIT_LIMIT: "100000", HIL_QUARANTINE_AFTER: "100" } });
  const report: SoakReport = {
    minutes: opts.minutes,
    injected: {},
    skipped: {},
    accepted: 0,
    finished: {},
    lost: [],
    executedTwice: [],
    wrongOutcome: [],
    infraErrors: 0,
    linesAcked: 0,
    linesMissing: 0,
    linesDuplicated: 0,
    linesOutOfOrder: 0,
    missingByRun: {},
    missingSamples: [],
    leasedBoards: [],
  };
  const agentOutput: string[] = [];
  const accepted: Accepted[] = [];
  const followers: Follower[] = [];
  let submitting = true;
  try {
    for (const name of AGENTS) await lab.startAgent(name, agentArgs(lab, name));
    const boards = await waitUntil("four idle boards", async () => {
      const list = await boardList(lab);
      const ids = list.filter((b) => b.state === "idle").map((b) => b.id);
      return ids.length >= 4 ? ids : undefined;
    });
    for (const b of boards) followers.push(new Follower(lab.redisUrl, lab.keys.boardLog(b)));

    const images = await uploadImages(lab);
    const submitter = (async () => {
      let n = 0;
      while (submitting) {
        const open = await countOpen(lab, accepted).catch(() => IN_FLIGHT);
        if (open < IN_FLIGHT) {
          const workload: Workload = n % 10 === 3 ? "bootloop" : n % 10 === 7 ? "hang" : "good";
          const id = await submit(lab, images[workload]).catch(() => undefined);
          if (id) {
            accepted.push({ id, workload });
            n++;
          }
        } else {
          await sleep(300);
        }
      }
    })();

    const until = Date.now() + opts.minutes * 60_000;
    let i = 0;
    do {
      const kind = faults[i % faults.length]!;
      i++;
      say(`» ${kind}`);
      const outcome = await inject(lab, kind, opts, agentOutput);
      if (outcome === true) report.injected[kind] = (report.injected[kind] ?? 0) + 1;
      else if (typeof outcome === "string") report.skipped[kind] = outcome;
      // let the lab settle between faults, with runs flowing
      await sleep(3_000);
    } while (opts.oneRound ? i < faults.length : Date.now() < until);
    submitting = false;
    await submitter;

    say(`» draining ${accepted.length} runs`);
    const ended = new Map<string, Run>();
    await waitUntil(
      "every accepted run to end",
      async () => {
        for (const a of accepted) {
          if (ended.has(a.id)) continue;
          const r = await lab.getRun(a.id);
          if (TERMINAL.has(r.state)) ended.set(a.id, r);
        }
        return ended.size === accepted.length;
      },
      10 * 60_000,
      1_000,
    ).catch(() => undefined);

    report.accepted = accepted.length;
    for (const a of accepted) {
      const r = ended.get(a.id);
      if (!r) {
        report.lost.push(a.id);
        continue;
      }
      report.finished[r.state] = (report.finished[r.state] ?? 0) + 1;
      if (r.state === "error") report.infraErrors++;
      else if (!(WORKLOADS[a.workload].right as readonly string[]).includes(r.state)) report.wrongOutcome.push(`${a.id} (${a.workload}: ${r.state})`);
    }
    for (const name of AGENTS) agentOutput.push(lab.agents.get(name)?.output() ?? "");
    report.executedTwice = executedTwice(agentOutput.join("\n"));
    report.leasedBoards = await leasedBoards(lab);

    // the followers saw lines live; the lab must have every one of them, once and in order
    await sleep(1_000);
    for (const f of followers) f.stop();
    await checkLines(lab, followers, report);
    if (opts.dumpDir) await dump(lab, opts.dumpDir, report, agentOutput, followers);
    return report;
  } finally {
    submitting = false;
    for (const f of followers) f.stop();
    await lab.stop();
  }
}

/** One board's log stream, read live from its start as a dashboard follower does (resuming after the last id it saw). */
class Follower {
  readonly seen: LogLine[] = [];
  private stopped = false;
  private readonly redis: Redis;
  private readonly done: Promise<void>;

  constructor(url: string, readonly key: string) {
    this.redis = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    this.redis.on("error", () => undefined);
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    let last = "0-0";
    while (!this.stopped) {
      try {
        const res = (await this.redis.xread("COUNT", 1000, "BLOCK", 1000, "STREAMS", this.key, last)) as [string, [string, string[]][]][] | null;
        for (const [, entries] of res ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            this.seen.push(JSON.parse(fields[1] ?? "{}") as LogLine);
          }
        }
      } catch {
        await sleep(200);
      }
    }
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.redis.disconnect();
  }
}

async function uploadImages(lab: Lab): Promise<Record<Workload, { sha256: string; size: number }>> {
  const out = {} as Record<Workload, { sha256: string; size: number }>;
  for (const [name, w] of Object.entries(WORKLOADS) as [Workload, (typeof WORKLOADS)[Workload]][]) {
    const body = buildEsp32Image({ appDesc: { projectName: `soak_${name}`, version: "1.0.0" }, scenario: w.scenario as never });
    const res = await fetch(`${lab.url}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${CI_TOKEN}`, "content-type": "application/octet-stream" }, body });
    if (!res.ok) throw new Error(`upload of the ${name} image: HTTP ${res.status}`);
    out[name] = (await res.json()) as { sha256: string; size: number };
  }
  return out;
}

async function submit(lab: Lab, app: { sha256: string; size: number }): Promise<string | undefined> {
  const res = await lab.api<{ id: string }>("POST", "/api/v1/runs", { suite: "esp32-smoke", profile: "esp32-virtual", artifacts: { app } }, CI_TOKEN);
  return res.status === 201 || res.status === 202 ? res.body.id : undefined;
}

async function countOpen(lab: Lab, accepted: Accepted[]): Promise<number> {
  let open = 0;
  for (const a of accepted.slice(-IN_FLIGHT * 4)) {
    const raw = await lab.redis.hget(lab.keys.run(a.id), "json");
    if (raw && !TERMINAL.has((JSON.parse(raw) as Run).state)) open++;
  }
  return open;
}

/** Injects one fault; true when it was, a reason when it cannot be here, false when the moment never came. */
async function inject(lab: Lab, kind: FaultKind, opts: SoakOptions, agentOutput: string[]): Promise<boolean | string> {
  switch (kind) {
    case "agent-kill-mid-flash":
    case "agent-kill-mid-test": {
      const run = kind === "agent-kill-mid-flash" ? await runFlashing(lab) : await runTesting(lab);
      const board = run && { agent: run.attempts.at(-1)?.agent ?? "" };
      if (!board) return false;
      const agent = lab.agents.get(board.agent);
      if (!agent) return false;
      agentOutput.push(agent.output());
      process.kill(agent.pid, "SIGKILL");
      await agent.exited;
      await lab.startAgent(board.agent, agentArgs(lab, board.agent));
      return true;
    }
    case "link-drop-mid-flash": {
      // the board vanishes from its USB port mid-flash and comes back: the run is retried, not failed
      const run = await runFlashing(lab);
      const agent = run?.attempts.at(-1)?.agent;
      const board = run && Object.values(run.boards)[0];
      if (!agent || !board) return false;
      const socket = new ControlSocketReset(join(controlDir(lab, agent), `${board}.ctl`));
      await socket.command("unplug");
      await sleep(2_000);
      await socket.command("power-cycle");
      return true;
    }
    case "redis-kill-restart":
      await waitForRunning(lab);
      await lab.restartRedis();
      return true;
    case "redis-freeze":
      await waitForRunning(lab);
      process.kill(lab.redisServer.pid, "SIGSTOP");
      await sleep(opts.freezeMs);
      process.kill(lab.redisServer.pid, "SIGCONT");
      return true;
    case "scheduler-kill-after-claim": {
      // the test hook stops the scheduler right after its next claim, before the lease and the job
      let stopped: boolean;
      try {
        const s = await lab.restartScheduler({ HIL_TEST_STOP_AFTER_CLAIM: "1" });
        stopped = await Promise.race([s.exited.then(() => true), sleep(60_000).then(() => false)]);
      } catch (err) {
        // with runs waiting it claims one (and stops) before it says it is listening
        stopped = /process exited before/.test((err as Error).message);
        if (!stopped) throw err;
      }
      await lab.restartScheduler();
      return stopped;
    }
    case "scheduler-kill": {
      await waitForRunning(lab);
      process.kill(lab.scheduler.pid, "SIGKILL");
      await lab.scheduler.exited;
      await lab.restartScheduler();
      return true;
    }
    case "full-artifact-disk":
      return fullArtifactDisk(lab);
  }
}

/** A run in its flash step: running with no step done yet (the flash is the suite's first; the agents pace their links). */
function runFlashing(lab: Lab): Promise<Run | undefined> {
  return findRun(lab, "a run flashing", (r) => r.steps.length === 0 && r.startedAt !== undefined && Date.now() - r.startedAt > 200);
}

/** A run past its flash and reset, in its test steps. */
function runTesting(lab: Lab): Promise<Run | undefined> {
  return findRun(lab, "a run testing", (r) => r.steps.length >= 2);
}

function findRun(lab: Lab, what: string, pick: (r: Run) => boolean): Promise<Run | undefined> {
  return waitUntil(
    what,
    async () => {
      for (const id of await lab.redis.zrange(lab.keys.activeRuns(), "0", "-1")) {
        const raw = await lab.redis.hget(lab.keys.run(id), "json");
        const r = raw ? (JSON.parse(raw) as Run) : undefined;
        if (r?.state === "running" && pick(r)) return r;
      }
      return undefined;
    },
    60_000,
    50,
  ).catch(() => undefined);
}

async function waitForRunning(lab: Lab): Promise<void> {
  await waitUntil("a run running", async () => (await lab.redis.zcard(lab.keys.activeRuns())) > 0, 60_000, 100).catch(() => undefined);
}

/**
 * The scheduler's artifact directory on a filesystem that is full: a small tmpfs mounted over a run
 * directory root while runs end, then unmounted (the files must follow once there is room). Needs
 * mount(2): where this process may not mount, the fault is skipped with the reason.
 */
async function fullArtifactDisk(lab: Lab): Promise<boolean | string> {
  const runsDir = join(lab.dir, "artifacts", "runs");
  await mkdir(runsDir, { recursive: true });
  const probe = join(lab.dir, `mount-probe-${randomUUID().slice(0, 8)}`);
  await mkdir(probe);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { stdio: "pipe" });
    execFileSync("umount", [probe], { stdio: "pipe" });
  } catch (err) {
    return `cannot mount a tmpfs here (${((err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message).trim()})`;
  } finally {
    await rm(probe, { recursive: true, force: true });
  }
  // a full filesystem over the runs' directory for a while; what was there stays underneath
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=16k", "tmpfs", runsDir]);
  try {
    execFileSync("dd", ["if=/dev/zero", `of=${join(runsDir, "filler")}`, "bs=4k", "count=64"], { stdio: "ignore" });
  } catch {
    // dd stops at ENOSPC: that was the point
  }
  try {
    await sleep(15_000);
  } finally {
    execFileSync("umount", ["-l", runsDir]);
  }
  return true;
}

function executedTwice(output: string): string[] {
  const finishes = new Map<string, number>();
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const rec = JSON.parse(line) as { msg?: string; runId?: string; outcome?: string };
      // a test outcome (pass or fail) is the test executed; an error or a cancel is not
      if (rec.msg === "job finished" && rec.runId && (rec.outcome === "pass" || rec.outcome === "fail")) finishes.set(rec.runId, (finishes.get(rec.runId) ?? 0) + 1);
    } catch {
      // not a log record
    }
  }
  return [...finishes].filter(([, n]) => n > 1).map(([id]) => id);
}

async function boardList(lab: Lab): Promise<{ id: string; state: string; agent: string }[]> {
  return (await lab.api<{ boards: { id: string; state: string; agent: string }[] }>("GET", "/api/v1/boards", undefined, ADMIN_TOKEN)).body.boards;
}

async function leasedBoards(lab: Lab): Promise<string[]> {
  const list = await boardList(lab);
  return list.filter((b) => b.state === "leased" || b.state === "running" || b.state === "flashing").map((b) => b.id);
}

/**
 * Every line a follower received must be in the lab: a run's lines in the run's stored log, once, in
 * the order the follower saw them; a line of no run in the board's stream (whose ids are sequence
 * numbers, so once and in order by construction).
 */
async function checkLines(lab: Lab, followers: Follower[], report: SoakReport): Promise<void> {
  const byRun = new Map<string, LogLine[]>();
  for (const f of followers) {
    report.linesAcked += f.seen.length;
    // the board's log as the lab serves it from the start: its archive (what the stream's cap trimmed), then the stream
    const stored = new Set((await boardLogIds(lab, f.key.split(":").pop() ?? "")).map((seq) => `${seq}-0`));
    for (const line of f.seen) {
      if (line.run !== null) byRun.set(line.run, [...(byRun.get(line.run) ?? []), line]);
      else if (!stored.has(`${line.seq}-0`)) {
        report.linesMissing++;
        if (report.missingSamples.length < 200) report.missingSamples.push(line);
      }
    }
  }
  for (const [run, seen] of byRun) {
    const res = await lab.api<LogLine[]>("GET", `/api/v1/runs/${run}/log?format=json`);
    const stored = res.status === 200 ? res.body : [];
    const key = (l: LogLine) => `${l.board}#${l.seq}`;
    const count = new Map<string, number>();
    for (const l of stored) count.set(key(l), (count.get(key(l)) ?? 0) + 1);
    const index = new Map(stored.map((l, i) => [key(l), i] as const));
    // one follower per board: order is compared within a board's lines (a retry's board interleaves in time)
    let lastIndex = -1;
    let board = "";
    for (const l of seen) {
      if (l.board !== board) {
        board = l.board;
        lastIndex = -1;
      }
      const n = count.get(key(l)) ?? 0;
      if (n === 0) {
        report.linesMissing++;
        report.missingByRun[run] = (report.missingByRun[run] ?? 0) + 1;
        if (report.missingSamples.length < 200) report.missingSamples.push(l);
        continue;
      }
      if (n > 1) report.linesDuplicated++;
      const at = index.get(key(l))!;
      if (at < lastIndex) report.linesOutOfOrder++;
      lastIndex = Math.max(lastIndex, at);
    }
  }
}

async function dump(lab: Lab, dir: string, report: SoakReport, agentOutput: string[], followers: Follower[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "agents.log"), agentOutput.join("\n"));
  await writeFile(join(dir, "scheduler.log"), lab.scheduler.output());
  await writeFile(join(dir, "missing.json"), JSON.stringify(report.missingSamples, null, 1));
  for (const f of followers) {
    const stored = await lab.redis.xrange(f.key, "-", "+");
    await writeFile(join(dir, `board-${f.key.split(":").pop()}.json`), JSON.stringify({ seen: f.seen.map((l) => [l.seq, l.run, l.text.slice(0, 60)]), stored: stored.map(([id]) => id) }));
  }
  for (const id of new Set([...report.executedTwice, ...Object.keys(report.missingByRun)])) {
    const run = await lab.getRun(id).catch(() => undefined);
    const log = await lab.api<LogLine[]>("GET", `/api/v1/runs/${id}/log?format=json`);
    const seen = followers.flatMap((f) => f.seen.filter((l) => l.run === id));
    await writeFile(join(dir, `run-${id}.json`), JSON.stringify({ run, stored: log.body, seen }, null, 1));
  }
}

/** The line numbers `GET /boards/:id/log?since=0` serves (Server-Sent Events, ended since it does not follow). */
async function boardLogIds(lab: Lab, board: string): Promise<number[]> {
  const res = await fetch(`${lab.url}/api/v1/boards/${board}/log?since=0`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  if (!res.ok) throw new Error(`board log of ${board}: HTTP ${res.status}`);
  return [...(await res.text()).matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
}
