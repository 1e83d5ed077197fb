/**
 * Dispatch throughput and latency of the whole lab path with real processes: a private
 * redis-server, `hil scheduler` process(es), 4 `hil agent` processes × 50 instant boards (the
 * agents' Redis/BullMQ work is real, the board work is skipped), 5,000 runs from 10 submitters
 * submitted through the HTTP API (POST /api/v1/runs, 10 submitters × 8 requests in flight).
 *
 * Reports runs/s, dispatch latency (board free → job started on the agent: the job-finished event
 * of a board's previous run to the job-started event of its next one, counted only when the next
 * run was already waiting), fairness (runs finished per submitter per time slice), and Redis
 * commands per run (INFO commandstats delta / runs). Reference measured in the same run: bare
 * BullMQ (Queue.add → Worker, concurrency 200, same Redis), so the ratios show what the lab's
 * leasing, events and bookkeeping cost on top of the queue itself.
 *
 *   node --conditions=source --import tsx bench/dispatch.ts [--runs 5000] [--agents 4] [--boards 50]
 *        [--submitters 10] [--schedulers 1]
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { AgentEventSchema, labKeys, type Run } from "@hil/contracts";
import { leaseTokenHash } from "@hil/lab-protocol";
import { freePort, makeTempDir, REPO_ROOT, type Spawned, spawnHil, startPrivateRedis } from "@hil/test-kit";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";

const { values: args } = parseArgs({
  options: {
    runs: { type: "string", default: "5000" },
    agents: { type: "string", default: "4" },
    boards: { type: "string", default: "50" },
    submitters: { type: "string", default: "10" },
    schedulers: { type: "string", default: "1" },
    /** live: submit while the agents run (the API's submit rate bounds throughput); backlog: queue every run first, then start the agents. */
    mode: { type: "string", default: "backlog" },
  },
});
const RUNS = Number(args.runs);
const AGENTS = Number(args.agents);
const BOARDS_PER_AGENT = Number(args.boards);
const SUBMITTERS = Number(args.submitters);
const SCHEDULERS = Number(args.schedulers);
const MODE = args.mode === "live" ? "live" : "backlog";
const IN_FLIGHT_PER_SUBMITTER = 8;
const ADMIN = "bench-admin-token";
const NS = "bench";

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function commandCalls(redis: Redis): Promise<number> {
  return [...(await commandStats(redis)).values()].reduce((a, b) => a + b, 0);
}

/** Calls per Redis command (INFO commandstats). */
async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const out = new Map<string, number>();
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1] ?? "", Number(m[2]));
  return out;
}

function streamMs(id: string): number {
  return Number(id.split("-")[0]);
}

/**
 * Bare BullMQ on the same Redis: throughput = N jobs added in bulk and completed by a worker
 * (concurrency 200); latency = add → processor start of one job at a time, on an idle queue.
 */
async function bareBullmq(url: string, n: number, latencySamples = 300): Promise<{ perSec: number; p50: number; p99: number }> {
  const connection = { url };
  const queue = new Queue("bare-ref", { connection, prefix: "{ref}" });
  const latencies: number[] = [];
  let done = 0;
  let target = n;
  let finish!: () => void;
  let all = new Promise<void>((r) => (finish = r));
  const worker = new Worker(
    "bare-ref",
    async (job) => {
      if ((job.data as { probe?: boolean }).probe) latencies.push(Date.now() - (job.data as { t: number }).t);
      if (++done === target) finish();
    },
    { connection: { url, maxRetriesPerRequest: null }, prefix: "{ref}", concurrency: 200, removeOnComplete: { count: 100 } },
  );
  await worker.waitUntilReady();
  const started = Date.now();
  for (let i = 0; i < n; i += 100) {
    await queue.addBulk(Array.from({ length: Math.min(100, n - i) }, () => ({ name: "j", data: { t: Date.now() } })));
  }
  await all;
  const secs = (Date.now() - started) / 1000;
  for (let i = 0; i < latencySamples; i++) {
    done = 0;
    target = 1;
    all = new Promise<void>((r) => (finish = r));
    await queue.add("p", { t: Date.now(), probe: true });
    await all;
  }
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  latencies.sort((a, b) => a - b);
  return { perSec: n / secs, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

/**
 * The agents alone, no scheduler: jobs put straight on their BullMQ queues with leases the test
 * writes (one token per board, reused by that board's jobs), until every job-finished event is in.
 * Shows how much of the lab's rate the agent side can carry.
 */
async function agentsAlone(url: string, jobs: number, spawnAgents: (ns: string) => Promise<Spawned[]>): Promise<{ perSec: number }> {
  const ns = "benchalone";
  const keys = labKeys(ns);
  const redis = new Redis(url);
  const agents = await spawnAgents(ns);
  try {
    const boardIds = (await redis.smembers(keys.boards())).sort();
    const byAgent = new Map<string, string[]>();
    for (const id of boardIds) {
      const agent = id.replace(/-instant-\d+$/, "");
      byAgent.set(agent, [...(byAgent.get(agent) ?? []), id]);
    }
    const pipe = redis.pipeline();
    for (const id of boardIds) pipe.set(keys.lease(id), JSON.stringify({ runId: "alone", attempt: 1, tokenHash: leaseTokenHash(`t-${id}`), agent: "x" }), "PX", 600_000);
    await pipe.exec();
    const suite = { name: "alone", roles: { dut: { profile: "esp32-virtual" } }, artifacts: {}, timeout: 60_000, steps: [{ type: "wait", duration: 0 }] };
    const queues = [...byAgent.keys()].map((a) => new Queue(keys.agentQueue(a), { connection: { url }, prefix: keys.bullPrefix }));
    const started = Date.now();
    let n = 0;
    const agentNames = [...byAgent.keys()];
    while (n < jobs) {
      const batch: { agent: string; board: string; runId: string }[] = [];
      for (let i = 0; i < 500 && n < jobs; i++, n++) {
        const agent = agentNames[n % agentNames.length] ?? "";
        const boards = byAgent.get(agent) ?? [];
        const board = boards[Math.floor(n / agentNames.length) % boards.length] ?? "";
        batch.push({ agent, board, runId: `alone-${n}` });
      }
      await Promise.all(
        agentNames.map((agent, qi) =>
          queues[qi]?.addBulk(
            batch
              .filter((b) => b.agent === agent)
              .map((b) => ({
                name: "run",
                data: { runId: b.runId, attempt: 1, suite, boards: { dut: b.board }, artifacts: {}, timeoutMs: 60_000, leaseToken: `t-${b.board}` },
                opts: { jobId: `${b.runId}-a1`, removeOnComplete: { count: 100 } },
              })),
          ),
        ),
      );
    }
    let finished = 0;
    let last = "0-0";
    const deadline = Date.now() + 300_000;
    let lastAt = started;
    while (finished < jobs && Date.now() < deadline) {
      const entries = await redis.xrange(keys.events(), `(${last}`, "+", "COUNT", 5000);
      for (const [id, fields] of entries) {
        last = id;
        if ((fields[1] ?? "").includes('"job-finished"')) {
          finished++;
          lastAt = streamMs(id);
        }
      }
      if (entries.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(queues.map((q) => q.close()));
    return { perSec: finished / ((lastAt - started) / 1000) };
  } finally {
    await Promise.allSettled(agents.map((a) => a.stop()));
    redis.disconnect();
  }
}

async function main(): Promise<void> {
  const tmp = await makeTempDir("hil-bench-");
  const redisServer = await startPrivateRedis();
  const procs: Spawned[] = [];
  const redis = new Redis(redisServer.url);
  const keys = labKeys(NS);
  try {
    const tokens = Array.from({ length: SUBMITTERS }, (_, i) => ({ name: `s${i}`, token: `bench-submitter-${i}-token` }));
    // each agent signs its events with its own token (role agent, named after it)
    const agentToken = (i: number) => `bench-agent-${i}-token`;
    const agentTokens = Array.from({ length: AGENTS }, (_, i) => `bench${i}:agent:${agentToken(i)}`);
    const env = { ...process.env, HIL_TOKENS: [...tokens.map((t) => `${t.name}:${t.token}`), ...agentTokens].join(","), HIL_ADMIN_TOKEN: ADMIN, HIL_LOG_LEVEL: "warn", HIL_SUBMIT_LIMIT: "1000000" };
    const urls: string[] = [];
    for (let i = 0; i < SCHEDULERS; i++) {
      const port = await freePort();
      const s = spawnHil(
        ["scheduler", "--port", String(port), "--redis", redisServer.url, "--artifact-dir", join(tmp.dir, "artifacts"), "--namespace", NS],
        { env },
      );
      procs.push(s);
      await s.waitFor(/scheduler listening on/, 60_000);
      urls.push(`http://127.0.0.1:${port}`);
    }
    const startAgents = async (ns = NS): Promise<Spawned[]> => {
      const agents = Array.from({ length: AGENTS }, (_, i) =>
        spawnHil(
          [
            "agent", "--redis", redisServer.url, "--namespace", ns, "--name", `bench${i}`, "--instant-boards", String(BOARDS_PER_AGENT),
            "--log-level", "warn", "--scheduler-url", urls[0] ?? "",
          ],
          // no scheduler makes Redis users in the agents-alone namespace: there they log in as the URL says
          { env: { ...process.env, HIL_TOKEN: agentToken(i), HIL_REDIS_ACL: ns === NS ? "auto" : "off" } },
        ),
      );
      procs.push(...agents);
      await Promise.all(agents.map((a) => a.waitFor(/ready with/, 60_000)));
      return agents;
    };
    let agents = await startAgents();
    if (MODE === "backlog") {
      // Registered but offline: runs are accepted and wait; the agents come back once all are queued.
      await Promise.all(agents.map((a) => a.stop()));
    }
    const api = async <T>(method: string, path: string, token: string, body?: unknown, at = 0): Promise<{ status: number; body: T }> => {
      const res = await fetch(`${urls[at % urls.length]}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    };
    // One artifact for all runs (content-addressed: stored once).
    const up = await fetch(`${urls[0]}/api/v1/artifacts`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/octet-stream" },
      body: "instant boards do not flash\n",
    });
    const artifact = (await up.json()) as { sha256: string; size: number };
    const request = JSON.stringify({ suite: "esp32-smoke", profile: "esp32-virtual", artifacts: { app: artifact } });

    await redis.xtrim(keys.events(), "MAXLEN", 0);
    const statsBefore = await commandStats(redis);
    const callsBefore = await commandCalls(redis);
    const started = Date.now();
    const perSubmitter = Math.ceil(RUNS / SUBMITTERS);
    let submitErrors = 0;
    const submitTimes: number[] = [];
    await Promise.all(
      tokens.map(async (t, si) => {
        let next = 0;
        const lanes = Array.from({ length: IN_FLIGHT_PER_SUBMITTER }, async () => {
          while (next < perSubmitter && si * perSubmitter + next < RUNS) {
            next++;
            const r = await api<Run>("POST", "/api/v1/runs", t.token, request, si);
            if (r.status !== 201) submitErrors++;
          }
        });
        await Promise.all(lanes);
        submitTimes.push(Date.now());
      }),
    );
    const submitted = Date.now();
    let measureFrom = started;
    if (MODE === "backlog") {
      agents = await startAgents();
      measureFrom = Date.now();
    }

    // Done when every run has a job-finished event (read straight from the events stream).
    let finished = 0;
    let lastId = "0-0";
    const events: { id: string; type: string; runId: string }[] = [];
    const deadline = Date.now() + 600_000;
    while (finished < RUNS - submitErrors && Date.now() < deadline) {
      const batch = await redis.xrange(keys.events(), `(${lastId}`, "+", "COUNT", 5000);
      for (const [id, fields] of batch) {
        lastId = id;
        const ev = AgentEventSchema.parse(JSON.parse(fields[1] ?? "{}"));
        if (ev.type === "job-started") events.push({ id, type: ev.type, runId: ev.runId });
        if (ev.type === "job-finished") {
          events.push({ id, type: ev.type, runId: ev.result.runId });
          finished++;
        }
      }
      if (batch.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    const ended = Date.now();
    void agents;
    // Let the schedulers apply the last events before counting commands and reading runs.
    await new Promise((r) => setTimeout(r, 1000));
    const statsAfter = await commandStats(redis);
    const calls = (await commandCalls(redis)) - callsBefore;
    const perCommand = [...statsAfter]
      .map(([name, n]) => [name, (n - (statsBefore.get(name) ?? 0)) / Math.max(1, finished)] as const)
      .filter(([, n]) => n >= 0.5)
      .sort((a, b) => b[1] - a[1]);

    // Which board and submitter each run had, from the run records.
    const runIds = [...new Set(events.map((e) => e.runId))];
    const pipe = redis.pipeline();
    for (const id of runIds) pipe.hget(keys.run(id), "json");
    const recs = ((await pipe.exec()) ?? []).map(([, v]) => (v ? (JSON.parse(v as string) as Run) : undefined));
    const runInfo = new Map<string, Run>();
    recs.forEach((r) => r && runInfo.set(r.id, r));
    const states = new Map<string, number>();
    for (const r of runInfo.values()) states.set(r.state, (states.get(r.state) ?? 0) + 1);
    const multiAttempt = [...runInfo.values()].filter((r) => r.attempts.length > 1).length;

    // Dispatch latency per board: previous job-finished → next job-started, when the next run was waiting.
    const lastFree = new Map<string, number>();
    const latencies: number[] = [];
    for (const e of events) {
      const run = runInfo.get(e.runId);
      const board = run ? Object.values(run.boards)[0] : undefined;
      if (!run || !board) continue;
      if (e.type === "job-finished") lastFree.set(board, streamMs(e.id));
      else {
        const free = lastFree.get(board);
        if (free !== undefined && run.createdAt <= free) latencies.push(streamMs(e.id) - free);
      }
    }
    latencies.sort((a, b) => a - b);

    const firstStart = events.find((e) => e.type === "job-started");
    const lastFinish = [...events].reverse().find((e) => e.type === "job-finished");
    const from = MODE === "backlog" && firstStart ? streamMs(firstStart.id) : measureFrom;
    const seconds = ((lastFinish ? streamMs(lastFinish.id) : ended) - from) / 1000;

    // Where the latency goes, for the jobs BullMQ still keeps (removeOnComplete: last 1000 per agent):
    // board free → job added by the scheduler, added → taken by the agent's worker, taken → job-started.
    const startedAt = new Map(events.filter((e) => e.type === "job-started").map((e) => [e.runId, streamMs(e.id)]));
    const freeBefore = new Map<string, number>();
    {
      const lastFreeByBoard = new Map<string, number>();
      for (const e of events) {
        const run = runInfo.get(e.runId);
        const board = run ? Object.values(run.boards)[0] : undefined;
        if (!run || !board) continue;
        if (e.type === "job-finished") lastFreeByBoard.set(board, streamMs(e.id));
        else {
          const free = lastFreeByBoard.get(board);
          if (free !== undefined && run.createdAt <= free) freeBefore.set(e.runId, free);
        }
      }
    }
    const toEnqueue: number[] = [];
    const toPickup: number[] = [];
    const toStarted: number[] = [];
    for (let i = 0; i < AGENTS; i++) {
      const q = new Queue(keys.agentQueue(`bench${i}`), { connection: { url: redisServer.url }, prefix: keys.bullPrefix });
      for (const job of await q.getJobs(["completed"], 0, 999)) {
        const runId = (job.data as { runId?: string }).runId ?? "";
        const free = freeBefore.get(runId);
        const st = startedAt.get(runId);
        if (free === undefined || st === undefined || job.processedOn === undefined) continue;
        toEnqueue.push(job.timestamp - free);
        toPickup.push(job.processedOn - job.timestamp);
        toStarted.push(st - job.processedOn);
      }
      await q.close();
    }
    for (const a of [toEnqueue, toPickup, toStarted]) a.sort((x, y) => x - y);
    const breakdown = {
      samples: toEnqueue.length,
      freeToEnqueue: { p50: pct(toEnqueue, 50), p99: pct(toEnqueue, 99) },
      enqueueToPickup: { p50: pct(toPickup, 50), p99: pct(toPickup, 99) },
      pickupToStarted: { p50: pct(toStarted, 50), p99: pct(toStarted, 99) },
    };
    // Fairness: runs finished per submitter in 5 equal slices of the run.
    const slices = 5;
    const span = Math.max(1, seconds * 1000);
    const fairness: Record<string, number[]> = {};
    for (const e of events) {
      if (e.type !== "job-finished") continue;
      const sub = runInfo.get(e.runId)?.submitter ?? "?";
      const slice = Math.min(slices - 1, Math.floor(((streamMs(e.id) - from) / span) * slices));
      const counts = (fairness[sub] ??= Array<number>(slices).fill(0));
      counts[slice] = (counts[slice] ?? 0) + 1;
    }

    const ref = await bareBullmq(redisServer.url, 5000);
    const alone = await agentsAlone(redisServer.url, RUNS, startAgents);
    const result = {
      at: new Date().toISOString(),
      setup: { runs: RUNS, agents: AGENTS, boardsPerAgent: BOARDS_PER_AGENT, submitters: SUBMITTERS, schedulers: SCHEDULERS, submittedVia: "HTTP API", mode: MODE },
      runsPerSec: finished / seconds,
      submitSeconds: (submitted - started) / 1000,
      totalSeconds: seconds,
      finished,
      submitErrors,
      runStates: Object.fromEntries(states),
      runsWithRetries: multiAttempt,
      // Why the first attempts of retried runs ended (instant boards should never need a retry).
      retried: [...runInfo.values()]
        .filter((r) => r.attempts.length > 1)
        .slice(0, 20)
        .map((r) => ({ id: r.id, attempts: r.attempts.map((a) => ({ agent: a.agent, outcome: a.outcome, error: a.error, boards: a.boards })) })),
      dispatchLatencyMs: { samples: latencies.length, p50: pct(latencies, 50), p90: pct(latencies, 90), p99: pct(latencies, 99), max: latencies.at(-1) },
      latencyBreakdownMs: breakdown,
      redisCommandsPerRun: calls / Math.max(1, finished),
      redisCommandsPerRunByCommand: Object.fromEntries(perCommand),
      fairness,
      reference: { bareBullmq: ref, agentsAloneRunsPerSec: alone.perSec },
      ratios: {
        throughputVsBareBullmq: finished / seconds / ref.perSec,
        p99VsBareBullmq: pct(latencies, 99) / ref.p99,
      },
    };

    const rows: [string, string][] = [
      ["runs finished", `${finished} / ${RUNS} (submit errors ${submitErrors}; states ${JSON.stringify(result.runStates)})`],
      ["throughput", `${result.runsPerSec.toFixed(0)} runs/s (goal ≥ 500) over ${seconds.toFixed(1)} s (${MODE}); submitting took ${result.submitSeconds.toFixed(1)} s`],
      ["dispatch latency", `p50 ${result.dispatchLatencyMs.p50} ms, p90 ${result.dispatchLatencyMs.p90} ms, p99 ${result.dispatchLatencyMs.p99} ms (goal < 50), n=${latencies.length}`],
      [
        "latency breakdown",
        `free→enqueued (scheduler) p50 ${breakdown.freeToEnqueue.p50} / p99 ${breakdown.freeToEnqueue.p99} ms; enqueued→taken (BullMQ) p50 ${breakdown.enqueueToPickup.p50} / p99 ${breakdown.enqueueToPickup.p99} ms; taken→started (agent) p50 ${breakdown.pickupToStarted.p50} / p99 ${breakdown.pickupToStarted.p99} ms; n=${breakdown.samples}`,
      ],
      ["redis commands/run", result.redisCommandsPerRun.toFixed(1)],
      ["  by command", perCommand.map(([name, n]) => `${name} ${n.toFixed(1)}`).join(", ")],
      ["agents alone (same run)", `${alone.perSec.toFixed(0)} jobs/s through the ${AGENTS} agent processes, no scheduler (lab ×${(result.runsPerSec / alone.perSec).toFixed(2)})`],
      ["bare BullMQ (same run)", `${ref.perSec.toFixed(0)} jobs/s; add → start on an idle queue p50 ${ref.p50} ms, p99 ${ref.p99} ms`],
      ["ratio lab/bare", `throughput ×${result.ratios.throughputVsBareBullmq.toFixed(2)}, p99 ×${result.ratios.p99VsBareBullmq.toFixed(1)}`],
    ];
    if (result.retried.length > 0) rows.push(["retried runs", JSON.stringify(result.retried.map((r) => r.attempts.map((a) => a.error?.code ?? a.outcome)))]);
    process.stdout.write(rows.map(([k, v]) => `${k.padEnd(24)} ${v}`).join("\n") + "\n\nfinished per submitter per fifth of the run:\n");
    for (const [sub, counts] of Object.entries(fairness).sort()) process.stdout.write(`  ${sub.padEnd(6)} ${counts.map((c) => String(c).padStart(5)).join(" ")}\n`);
    const outDir = join(REPO_ROOT, "bench", "results");
    await mkdir(outDir, { recursive: true });
    const out = join(outDir, `dispatch-${Date.now()}.json`);
    await writeFile(out, JSON.stringify(result, null, 2));
    process.stdout.write(`\nsaved ${out}\n`);
  } finally {
    await Promise.allSettled(procs.map((p) => p.stop()));
    redis.disconnect();
    await redisServer.stop();
    await tmp.remove();
  }
}

await main();
