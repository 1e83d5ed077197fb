/**
 * Live log path, end to end, with real processes: N line boards (their own process, each behind a real RFC 2217
 * server as a virtual ESP32 is) print `t=<print time> n=<counter>` lines at M lines/s each → the agent (its own
 * process: a real LabAgent whose idle consoles capture, stamp and ship the lines) → Redis → the gateway (`hil
 * dashboard`, its own process) → K socket.io clients (their own process; each joins every board's room) plus one
 * real Chromium page showing board 0. Reports print → receipt latency, lines lost and duplicated (every counter
 * of every board must arrive once at every receiver), CPU and RSS of each process, and, measured in the same run on
 * the same redis-server, the bare-Redis reference: the same boards process XADDs the same lines at the same pace,
 * one reader XREAD BLOCKs over every board's key (no lab code).
 *
 *   npm run bench -- logs [--sweep 1x100,10x100,10x1000,50x100,25x1000,50x1000 | --boards N --rate M] [--seconds 10]
 *        [--warmup 3] [--clients 4] [--drain 20] [--no-browser] [--profile DIR]
 *
 * Exits 1 when the lab lost or duplicated a line at any point of the sweep.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { labKeys, type LogLine } from "@hil/contracts";
import { freePort, hilArgv, type PrivateRedis, REPO_ROOT, type Spawned, spawnTracked, startPrivateRedis } from "@hil/test-kit";
import { Redis } from "ioredis";
import { openBrowserViewer, type BrowserViewer } from "./logs/browser-viewer.js";
import { forkScript, type Forked } from "./logs/forked.js";
import {
  parseCountedLine,
  wallNow,
  type BoardsReply,
  type BoardsRequest,
  type MeasureWindow,
  type ReceiverReport,
  type ReceiversReply,
  type ReceiversRequest,
} from "./logs/messages.js";
import { CORES, descendants, UsageMeter } from "./logs/proc-stats.js";

const { values: args } = parseArgs({
  options: {
    sweep: { type: "string" },
    boards: { type: "string" },
    rate: { type: "string" },
    seconds: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    clients: { type: "string", default: "4" },
    drain: { type: "string", default: "20" },
    "no-browser": { type: "boolean", default: false },
    /** Write V8 CPU profiles of the agent and the gateway here (open them in Chrome DevTools). */
    profile: { type: "string" },
  },
});
const DEFAULT_SWEEP = "1x100,10x100,10x1000,50x100,25x1000,50x1000";
const MEASURE_S = Number(args.seconds);
const WARMUP_S = Number(args.warmup);
const CLIENTS = Number(args.clients);
const DRAIN_S = Number(args.drain);
const BROWSER = !args["no-browser"];
const TOKEN = "logbench-admin-token";
const GOAL_P99_MS = 250;
const GOAL_RATIO = 3;

interface Point {
  boards: number;
  rate: number;
}

function sweepPoints(): Point[] {
  if (args.boards !== undefined || args.rate !== undefined) return [{ boards: Number(args.boards ?? 10), rate: Number(args.rate ?? 100) }];
  return (args.sweep ?? DEFAULT_SWEEP).split(",").map((s) => {
    const [b, r] = s.split(/[x×*]/).map(Number);
    if (!(b && b > 0 && r && r > 0)) throw new Error(`--sweep: "${s}" is not BOARDSxRATE (e.g. 10x1000)`);
    return { boards: b, rate: r };
  });
}

type BoardsProc = Forked<BoardsRequest, BoardsReply>;
type ReceiversProc = Forked<ReceiversRequest, ReceiversReply>;

/** Calls per Redis command so far (INFO commandstats). */
async function commandCalls(redis: Redis): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const m of (await redis.info("commandstats")).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1] ?? "", Number(m[2]));
  return out;
}

interface PhaseResult {
  printed: number;
  printSeconds: number;
  lateTicks: number;
  receivers: ReceiverReport[];
  merged: ReceiverReport;
  drainSeconds: number;
  drained: boolean;
  usage: ReturnType<UsageMeter["stop"]>;
  /** Redis commands per second in the measure window, busiest first. */
  redisCalls: Record<string, number>;
}

interface PointResult extends Point {
  lab: PhaseResult & { browser?: ReceiverReport; shippedInWindow: number; backlogAtStop: number };
  bare: PhaseResult;
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - wallNow())));

/** Waits for every receiver to have every printed line, or the drain limit; resolves with the seconds it took. */
async function drain(receivers: ReceiversProc, browser: BrowserViewer | undefined, printed: Record<string, number>): Promise<{ seconds: number; drained: boolean }> {
  const from = wallNow();
  let complete = false;
  const off = receivers.on("progress", (p) => (complete = p.complete));
  receivers.send({ type: "expect", printed });
  if (browser) await browser.expect(printed);
  let drained = false;
  while (wallNow() - from < DRAIN_S * 1000) {
    if (complete && (!browser || (await browser.complete()))) {
      drained = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  off();
  return { seconds: (wallNow() - from) / 1000, drained };
}

/** Starts the boards printing at `at`, measures CPU/RSS over the window, stops them and drains the receivers. */
async function runPhase(
  point: Point,
  mode: "serial" | "redis",
  boards: BoardsProc,
  receivers: ReceiversProc,
  meter: UsageMeter,
  redis: Redis,
  browser?: BrowserViewer,
  shipped?: () => Promise<number>,
): Promise<PhaseResult & { shippedInWindow: number; backlogAtStop: number }> {
  const at = wallNow() + 300;
  const window: MeasureWindow = { from: at + WARMUP_S * 1000, to: at + (WARMUP_S + MEASURE_S) * 1000 };
  receivers.send({ type: "measure", window });
  if (browser) await browser.measure(window);
  boards.send({ type: "start", at, rate: point.rate, mode });
  await boards.next("started");
  await sleepUntil(window.from);
  meter.start();
  const callsBefore = await commandCalls(redis);
  const shippedBefore = (await shipped?.()) ?? 0;
  await sleepUntil(window.to);
  const usage = meter.stop();
  const callsAfter = await commandCalls(redis);
  const shippedAfter = (await shipped?.()) ?? 0;
  const redisCalls = Object.fromEntries(
    [...callsAfter]
      .map(([name, n]) => [name, (n - (callsBefore.get(name) ?? 0)) / usage.seconds] as const)
      .filter(([, perSecond]) => perSecond >= 1)
      .sort((a, b) => b[1] - a[1]),
  );
  boards.send({ type: "stop" });
  const stopped = await boards.next("stopped");
  const printed = Object.values(stopped.printed).reduce((a, b) => a + b, 0);
  const shippedAtStop = (await shipped?.()) ?? 0;
  const { seconds, drained } = await drain(receivers, browser, stopped.printed);
  receivers.send({ type: "report" });
  const report = await receivers.next("report");
  return {
    printed,
    shippedInWindow: shippedAfter - shippedBefore,
    backlogAtStop: shipped ? printed - shippedAtStop : 0,
    printSeconds: stopped.seconds,
    lateTicks: stopped.lateTicks,
    receivers: report.receivers,
    merged: report.merged,
    drainSeconds: seconds,
    drained,
    usage,
    redisCalls,
  };
}

async function runPoint(redisServer: PrivateRedis, point: Point, index: number): Promise<PointResult> {
  const ns = `logbench${index}`;
  const keys = labKeys(ns);
  const redis = new Redis(redisServer.url);
  const procs: { stop(): Promise<void> }[] = [];
  let browser: BrowserViewer | undefined;
  try {
    const boards: BoardsProc = forkScript(
      here("./logs/boards-process.ts"),
      ["--boards", String(point.boards), "--prefix", `${ns}-vb`, "--redis", redisServer.url, "--bare-prefix", `${ns}:bare`],
      "boards",
    );
    procs.push(boards);
    const listening = await boards.next("listening");
    const boardIds = listening.boards.map((b) => b.id);

    const port = await freePort();
    const profile = args.profile === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${args.profile}`];
    const [node, hil] = hilArgv(["dashboard", "--port", String(port), "--redis", redisServer.url, "--namespace", ns]);
    const gateway: Spawned = spawnTracked(node, [...profile, ...hil], { env: { ...process.env, HIL_ADMIN_TOKEN: TOKEN, HIL_LOG_LEVEL: "warn" } });
    procs.push(gateway);
    const endpoints = listening.boards.map((b) => `${b.id}=${b.url}`).join(",");
    const agent: Spawned = spawnTracked(process.execPath, [
      ...profile,
      ...["--conditions=source", "--import", "tsx", here("./logs/agent-process.ts")],
      ...["--redis", redisServer.url, "--namespace", ns, "--boards", endpoints],
    ]);
    procs.push(agent);
    await Promise.all([gateway.waitFor(/listening on http/, 60_000), agent.waitFor(/bench agent ready/, 60_000)]);
    boards.send({ type: "probe" });

    const gatewayUrl = `http://127.0.0.1:${port}`;
    const receivers: ReceiversProc = forkScript(
      here("./logs/receivers-process.ts"),
      ["--mode", "socketio", "--url", gatewayUrl, "--token", TOKEN, "--clients", String(CLIENTS), "--boards", boardIds.join(",")],
      "receivers",
    );
    procs.push(receivers);
    await receivers.next("joined");
    if (BROWSER) browser = await openBrowserViewer({ gateway: gatewayUrl, token: TOKEN, board: boardIds[0] ?? "" });
    await receivers.next("ready", 60_000);
    for (let waited = 0; browser && !(await browser.ready()); waited += 100) {
      if (waited > 60_000) throw new Error("the Chromium page saw no line of its board within 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }

    const ours = new Set([boards.pid, gateway.pid, agent.pid, receivers.pid, redisServer.pid]);
    const groups = () =>
      new Map<string, number[]>([
        ["agent", [agent.pid]],
        ["gateway", [gateway.pid]],
        ["redis", [redisServer.pid]],
        ["boards", [boards.pid]],
        ["receivers", [receivers.pid]],
        ["browser", descendants(process.pid).filter((p) => !ours.has(p))],
        ["bench", [process.pid]],
      ]);

    // how far the agent's shipping has got: the newest counted line in each board's stream
    const shipped = async (): Promise<number> => {
      const pipe = redis.pipeline();
      for (const id of boardIds) pipe.xrevrange(keys.boardLog(id), "+", "-", "COUNT", 1);
      let total = 0;
      for (const [, res] of (await pipe.exec()) ?? []) {
        const json = ((res as [string, string[]][])[0]?.[1] ?? [])[1];
        if (json) total += parseCountedLine((JSON.parse(json) as LogLine).text)?.n ?? 0;
      }
      return total;
    };
    const lab = await runPhase(point, "serial", boards, receivers, new UsageMeter(groups), redis, browser, shipped);
    const browserReport = browser ? await browser.report() : undefined;
    await browser?.close();
    browser = undefined;
    receivers.send({ type: "close" });
    await receivers.stop();

    // the reference on the same redis-server, with the lab's processes still up but idle
    const bareReceivers: ReceiversProc = forkScript(
      here("./logs/receivers-process.ts"),
      ["--mode", "redis", "--redis", redisServer.url, "--bare-prefix", `${ns}:bare`, "--boards", boardIds.join(",")],
      "bare reader",
    );
    procs.push(bareReceivers);
    await bareReceivers.next("ready");
    const bareGroups = () =>
      new Map<string, number[]>([
        ["redis", [redisServer.pid]],
        ["boards", [boards.pid]],
        ["receivers", [bareReceivers.pid]],
        ["agent", [agent.pid]],
        ["gateway", [gateway.pid]],
      ]);
    const bare = await runPhase(point, "redis", boards, bareReceivers, new UsageMeter(bareGroups), redis);
    return {
      ...point,
      lab: { ...lab, ...(browserReport ? { browser: browserReport } : {}) },
      bare,
    };
  } finally {
    await browser?.close();
    await Promise.allSettled(procs.reverse().map((p) => p.stop()));
    await redis.flushall().catch(() => undefined);
    redis.disconnect();
  }
}

// NaN (no samples) comes back from a child process as null
const fmt = (v: number | null | undefined, digits = 1) => (v === undefined || v === null || !Number.isFinite(v) ? "-" : v.toFixed(digits));

function table(results: PointResult[]): string {
  const head = ["boards", "rate", "lines/s", "lab p50", "p99", "max", "lost", "dup", "late", "bare p50", "p99", "p99 lab/bare"];
  head.push("agent CPU%", "RSS MB", "gateway CPU%", "RSS MB", "redis CPU%");
  const rows = results.map((r) => {
    const lab = r.lab;
    const lost = lab.merged.lost + (lab.browser?.lost ?? 0);
    const dup = lab.merged.duplicates + (lab.browser?.duplicates ?? 0);
    const late = lab.merged.undelivered + (lab.browser?.undelivered ?? 0);
    const g = lab.usage.groups;
    return [
      String(r.boards),
      String(r.rate),
      fmt(lab.printed / lab.printSeconds, 0),
      fmt(lab.merged.latency.p50),
      fmt(lab.merged.latency.p99),
      fmt(lab.merged.latency.max, 0),
      String(lost),
      String(dup),
      String(late),
      fmt(r.bare.merged.latency.p50),
      fmt(r.bare.merged.latency.p99),
      fmt(lab.merged.latency.p99 / r.bare.merged.latency.p99),
      fmt(g.agent?.cpuPct, 0),
      fmt(g.agent?.rssMiB, 0),
      fmt(g.gateway?.cpuPct, 0),
      fmt(g.gateway?.rssMiB, 0),
      fmt(g.redis?.cpuPct, 0),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

function details(results: PointResult[]): string {
  const out: string[] = [];
  for (const r of results) {
    const lab = r.lab;
    const g = lab.usage.groups;
    const b = r.bare.usage.groups;
    const perSecond = lab.printed / lab.printSeconds;
    // CPU per line, what a line costs each process whatever else the machine runs: the agent's per line it shipped
    // in the window, the others' per line one client received in it
    const through = (k: string) => (k === "agent" ? lab.shippedInWindow : (lab.receivers[0]?.receivedInWindow ?? 0)) / lab.usage.seconds;
    const usPerLine = (k: string) => ((g[k]?.cpuPct ?? 0) * 1e4) / Math.max(1, through(k));
    // below ~10k lines/s fixed costs (heartbeats, timers, the page's repaints) swamp the per-line ones
    const cpu = (k: string) => `${k} ${fmt(g[k]?.cpuPct, 0)}%` + (perSecond >= 10_000 ? ` (${fmt(usPerLine(k))} µs/line)` : "");
    const needed = ["agent", "gateway", "redis", "boards", "receivers", "browser"].reduce((a, k) => a + usPerLine(k), 0) * 50_000 / 1e6;
    const ours = Object.values(g).reduce((a, x) => a + x.cpuPct, 0) / 100;
    out.push(
      `${r.boards}×${r.rate}: printed ${lab.printed} lines in ${fmt(lab.printSeconds)} s (boards process late ticks: ${lab.lateTicks}); ` +
        `drained ${lab.drained ? "in" : "NOT within"} ${fmt(lab.drainSeconds)} s after the boards stopped; agent backlog at stop ${lab.backlogAtStop} lines`,
      `  latency stages (client 0..${CLIENTS - 1} merged): print → agent capture p50 ${fmt(lab.merged.capture?.p50)} / p99 ${fmt(lab.merged.capture?.p99)} ms; print → client p50 ${fmt(lab.merged.latency.p50)} / p99 ${fmt(lab.merged.latency.p99)} ms (n=${lab.merged.latency.samples})`,
      `  per receiver: ${[...lab.receivers, ...(lab.browser ? [lab.browser] : [])].map((x) => `${x.name} p50 ${fmt(x.latency.p50)} p99 ${fmt(x.latency.p99)} lost ${x.lost} dup ${x.duplicates} late ${x.undelivered}`).join("; ")}`,
      `  CPU (% of one core) in the window: ${["agent", "gateway", "redis", "boards", "receivers", "browser", "bench"].map(cpu).join(", ")}; ` +
        `machine busy ${fmt(lab.usage.machineBusyCores, 2)} of ${CORES} cores (ours ${fmt(ours, 2)}, everything else ${fmt(lab.usage.machineBusyCores - ours, 2)})` +
        (perSecond >= 10_000 ? `; at these costs 50×1000 needs ${fmt(needed, 2)} cores` : ""),
      `  Redis commands/s: ${Object.entries(lab.redisCalls).slice(0, 6).map(([c, n]) => `${c} ${fmt(n, 0)}`).join(", ")}` +
        ` (lines per ship-log-lines script call: ${fmt(lab.shippedInWindow / lab.usage.seconds / (lab.redisCalls.eval ?? Number.NaN), 0)})`,
      `  bare Redis: p50 ${fmt(r.bare.merged.latency.p50)} / p99 ${fmt(r.bare.merged.latency.p99)} / max ${fmt(r.bare.merged.latency.max, 0)} ms, lost ${r.bare.merged.lost}, dup ${r.bare.merged.duplicates}, late ${r.bare.merged.undelivered}; ` +
        `CPU redis ${fmt(b.redis?.cpuPct, 0)}%, producers ${fmt(b.boards?.cpuPct, 0)}%, reader ${fmt(b.receivers?.cpuPct, 0)}%; machine busy ${fmt(r.bare.usage.machineBusyCores, 2)} cores`,
    );
  }
  return out.join("\n");
}

function verdict(results: PointResult[]): string {
  const top = results.find((r) => r.boards === 50 && r.rate === 1000);
  if (!top) return "goal (50 boards × 1,000 lines/s): not in this sweep";
  const lost = top.lab.merged.lost + top.lab.merged.undelivered + (top.lab.browser?.lost ?? 0) + (top.lab.browser?.undelivered ?? 0);
  const p99 = top.lab.merged.latency.p99;
  const ratio = p99 / top.bare.merged.latency.p99;
  const usage = top.lab.usage;
  const ours = Object.values(usage.groups).reduce((a, x) => a + x.cpuPct, 0) / 100;
  const lab = ["agent", "gateway", "redis"].reduce((a, k) => a + (usage.groups[k]?.cpuPct ?? 0), 0) / 100;
  return (
    `goal at 50×1000: p99 ${fmt(p99)} ms (< ${GOAL_P99_MS}: ${p99 < GOAL_P99_MS ? "met" : "NOT met"}), lost ${lost} (${lost === 0 ? "met" : "NOT met"}), ` +
    `p99 ×${fmt(ratio)} of bare Redis (≤ ${GOAL_RATIO}: ${ratio <= GOAL_RATIO ? "met" : "NOT met"})\n` +
    `  where the CPU went: machine ${fmt(usage.machineBusyCores, 2)} of ${CORES} cores busy — the lab (agent, gateway, redis) ${fmt(lab, 2)}, ` +
    `the bench's boards, clients and page ${fmt(ours - lab, 2)}, other work on the machine ${fmt(usage.machineBusyCores - ours, 2)}; ` +
    `the agent was ${fmt(top.lab.backlogAtStop / (top.boards * top.rate), 1)} s of lines behind when the boards stopped`
  );
}

async function main(): Promise<number> {
  const points = sweepPoints();
  const redisServer = await startPrivateRedis();
  const results: PointResult[] = [];
  let failure: Error | undefined;
  try {
    process.stdout.write(
      `log path: line boards → agent → Redis → gateway → ${CLIENTS} socket.io clients (each in every board's room)${BROWSER ? " + 1 Chromium page (board 0)" : ""}; ` +
        `${WARMUP_S} s warm-up, ${MEASURE_S} s measured; ${CORES} cores\n`,
    );
    for (const [i, point] of points.entries()) {
      process.stdout.write(`… ${point.boards} boards × ${point.rate} lines/s\n`);
      try {
        results.push(await runPoint(redisServer, point, i));
      } catch (err) {
        // keep what the earlier points measured; this one is reported as failed
        failure = err as Error;
        process.stderr.write(`${point.boards}×${point.rate} failed: ${failure.stack ?? failure.message}\n`);
        break;
      }
    }
  } finally {
    await redisServer.stop();
  }
  const outDir = join(REPO_ROOT, "bench", "results");
  await mkdir(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const setup = { measureSeconds: MEASURE_S, warmupSeconds: WARMUP_S, drainSeconds: DRAIN_S, clients: CLIENTS, clientsJoin: "every board", browser: BROWSER, cores: CORES };
  await writeFile(join(outDir, `logs-${stamp}.json`), JSON.stringify({ at: new Date().toISOString(), setup, results }, null, 2));
  const text = [
    "latency in ms (print → receipt at the socket.io clients, merged); lost (skipped counters), dup, late (not delivered " +
      `within ${DRAIN_S} s after the boards stopped) over every receiver incl. the Chromium page; CPU % of one core over the measured window; RSS peak in MB`,
    table(results),
    "",
    details(results),
    "",
    verdict(results),
  ].join("\n");
  process.stdout.write(`\n${text}\n`);
  await writeFile(join(outDir, `logs-${stamp}.txt`), `${text}\n`);
  process.stdout.write(`\nsaved bench/results/logs-${stamp}.txt and .json\n`);
  if (failure) {
    process.stderr.write(`the sweep stopped early: ${failure.message}\n`);
    return 1;
  }
  const faults = (x: ReceiverReport | undefined) => (x ? x.lost + x.duplicates + x.undelivered : 0);
  const bad = results.filter((r) => faults(r.lab.merged) + faults(r.lab.browser) > 0);
  if (bad.length > 0) {
    process.stderr.write(`LINES LOST, DUPLICATED OR NOT DELIVERED within ${DRAIN_S} s at ${bad.map((r) => `${r.boards}×${r.rate}`).join(", ")}\n`);
    return 1;
  }
  return 0;
}

process.exitCode = await main();
