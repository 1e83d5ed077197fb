// Prometheus metrics end to end: a run on a virtual ESP32 through a real scheduler and a real
// `hil agent --metrics-listen`, then both /metrics scrapes parsed here (text format 0.0.4) and the
// run found counted on each side; every metric the Grafana dashboard queries is served by one of them.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildEsp32Image } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { freePort, waitUntil } from "@hil/test-kit";
import { agentToken, CI_TOKEN, startLab, type Lab } from "./lab-fixture.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  /** metric family name → type, from the `# TYPE` lines */
  types: Map<string, string>;
  samples: Sample[];
}

function parseLabels(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(raw); m; m = re.exec(raw)) out[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
  return out;
}

function parseScrape(text: string): Scrape {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [name = "", type = ""] = line.slice(7).split(" ");
      types.set(name, type);
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    samples.push({ name: m[1]!, labels: parseLabels(m[2] ?? ""), value });
  }
  return { types, samples };
}

/** The one sample of `name` whose labels include `labels` (undefined when none; throws when several match). */
function sample(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

/** Whether a scrape serves the series an expression names (a histogram's _bucket/_sum/_count belong to its family). */
function serves(s: Scrape, series: string): boolean {
  if (s.types.has(series)) return true;
  const m = /^(.*)_(bucket|sum|count)$/.exec(series);
  return m !== null && ["histogram", "summary"].includes(s.types.get(m[1]!) ?? "");
}

async function scrape(url: string, token?: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, text: await res.text() };
}

let lab: Lab;
let agentMetricsUrl: string;

test.before(async () => {
  lab = await startLab();
  const port = await freePort();
  agentMetricsUrl = `http://127.0.0.1:${port}/metrics`;
  await lab.startAgent("m1", ["--virtual", "esp32=1", "--metrics-listen", `127.0.0.1:${port}`]);
});
test.after(async () => {
  await lab?.stop();
});

test("a run on a virtual ESP32 is counted by the scheduler and the agent; the dashboard's metrics all exist", async () => {
  const app = join(lab.dir, "metrics.bin");
  await writeFile(app, buildEsp32Image({ appDesc: { projectName: "e2e_metrics", version: "1.0.0" }, scenario: { kind: "console" } }));
  const run = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "2m", "--wait"]);
  assert.is(await run.exited, 0, run.output());

  // the metrics token: a viewer (read-only) token, as docs/metrics.md tells Prometheus to use
  const minted = await lab.api<{ token: string }>("POST", "/api/v1/tokens", { name: "prometheus", role: "viewer" });
  assert.is(minted.status, 201);
  const anonymous = await scrape(`${lab.url}/metrics`);
  assert.is(anonymous.status, 401, "the scheduler's metrics need a token");

  const scheduler = await waitUntil("the run counted as passed", async () => {
    const r = await scrape(`${lab.url}/metrics`, minted.body.token);
    assert.is(r.status, 200, r.text);
    const s = parseScrape(r.text);
    return (sample(s, "hil_runs_ended_total", { state: "passed" }) ?? 0) >= 1 ? s : undefined;
  });
  assert.is(sample(scheduler, "hil_runs_ended_total", { state: "failed" }), 0, "final states start at 0");
  assert.is(sample(scheduler, "hil_run_duration_seconds_count", { state: "passed" }), 1, "the run's run time observed once");
  assert.ok((sample(scheduler, "hil_run_duration_seconds_sum", { state: "passed" }) ?? 0) > 0);
  assert.is(sample(scheduler, "hil_run_wait_seconds_count", { profile: "esp32-virtual" }), 1, "the run's wait observed under its profile");
  assert.is(sample(scheduler, "hil_queue_depth"), 0);
  assert.is(sample(scheduler, "hil_infra_failures_total", { code: "BOARD_VANISHED" }), 0);
  assert.is(sample(scheduler, "hil_board_busy", { board: "m1-vesp32-0", profile: "esp32-virtual" }), 0, "the run released its board");
  const boardState = scheduler.samples.filter((x) => x.name === "hil_board_state" && x.labels["board"] === "m1-vesp32-0");
  assert.equal(boardState.map((x) => [x.labels["state"], x.labels["agent"], x.value]), [["idle", "m1", 1]]);
  assert.ok((sample(scheduler, "hil_redis_round_trip_seconds") ?? 0) > 0, "Redis round trip measured");

  // the agent: no token (loopback only), anything but GET /metrics is 404
  assert.is((await scrape(agentMetricsUrl.replace("/metrics", "/"))).status, 404);
  const agentScrape = await scrape(agentMetricsUrl);
  assert.is(agentScrape.status, 200, agentScrape.text);
  const agent = parseScrape(agentScrape.text);
  const image = (await readFile(app)).length;
  assert.ok((sample(agent, "hil_flash_bytes_total", { profile: "esp32-virtual" }) ?? 0) >= image, `the image's ${image} bytes were written\n${agentScrape.text}`);
  assert.is(sample(agent, "hil_flashes_total", { profile: "esp32-virtual", result: "written" }), 1);
  assert.is(sample(agent, "hil_flash_duration_seconds_count", { profile: "esp32-virtual" }), 1);
  assert.is(sample(agent, "hil_flash_throughput_bytes_per_second_count", { profile: "esp32-virtual" }), 1);
  assert.ok((sample(agent, "hil_log_lines_shipped_total") ?? 0) > 0, "the run's console lines were shipped");
  assert.is(sample(agent, "hil_log_lines_dropped_total"), 0, "no log line lost");
  assert.ok((sample(agent, "hil_redis_round_trip_seconds") ?? 0) > 0);

  // every series the Grafana dashboard queries is served by the scheduler or the agent
  const dashboard = JSON.parse(await readFile(new URL("../../docker/grafana/hil-lab.json", import.meta.url), "utf8")) as { panels: { title: string; targets?: { expr: string }[] }[] };
  const used = new Set<string>();
  for (const p of dashboard.panels) for (const t of p.targets ?? []) for (const name of t.expr.match(/\bhil_[a-z0-9_]+/g) ?? []) used.add(name);
  assert.ok(used.size >= 15, `the dashboard queries ${used.size} metrics`);
  const missing = [...used].filter((name) => !serves(scheduler, name) && !serves(agent, name));
  assert.equal(missing, [], "metrics the dashboard queries but nobody serves");
});

test("the metrics listen address is checked: a bad one or one in use is a usage error (exit 64)", async () => {
  const bad = lab.hil(["agent", "--redis", "redis://127.0.0.1:1", "--name", "m2", "--metrics-listen", "localhost:99999"], CI_TOKEN);
  assert.is(await bad.exited, 64, bad.output());
  assert.match(bad.output(), /metricsListen: "localhost:99999" is not host:port/);
  const taken = new URL(agentMetricsUrl).port;
  const busy = lab.hil(
    ["agent", "--redis", lab.redisServer.bareUrl, "--namespace", lab.namespace, "--name", "m2", "--no-discover", "--instant-boards", "1", "--metrics-listen", `127.0.0.1:${taken}`],
    agentToken("m2"),
  );
  assert.is(await busy.exited, 64, busy.output());
  assert.match(busy.output(), new RegExp(`--metrics-listen 127\\.0\\.0\\.1:${taken}: cannot listen there`));
  assert.is((await scrape(agentMetricsUrl)).status, 200, "m1 still serves its metrics");
});

test.run();
