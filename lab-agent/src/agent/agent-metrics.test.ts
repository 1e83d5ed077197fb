// The agent's metrics on their own: flash reports and log batches become the counters the dashboard reads, and a
// scrape still answers while Redis does not (the dropped-lines counter matters most during an outage).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AgentMetrics } from "./agent-metrics.js";

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test("flashes and log batches are counted by profile and result", async () => {
  const m = new AgentMetrics();
  m.flashed("esp32-devkitc", { bytesWritten: 200_000, seconds: 4, alreadyFlashed: false });
  m.flashed("esp32-devkitc", { bytesWritten: 0, seconds: 1, alreadyFlashed: true });
  m.lines(120, 0);
  m.lines(7, 3);
  const text = await m.registry.metrics();
  assert.is(value(text, 'hil_flash_bytes_total{profile="esp32-devkitc"}'), 200_000);
  assert.is(value(text, 'hil_flashes_total{profile="esp32-devkitc",result="written"}'), 1);
  assert.is(value(text, 'hil_flashes_total{profile="esp32-devkitc",result="unchanged"}'), 1);
  assert.is(value(text, 'hil_flash_duration_seconds_count{profile="esp32-devkitc"}'), 2);
  assert.is(value(text, 'hil_flash_throughput_bytes_per_second_count{profile="esp32-devkitc"}'), 1, "an unchanged flash has no throughput");
  assert.is(value(text, 'hil_flash_throughput_bytes_per_second_sum{profile="esp32-devkitc"}'), 50_000);
  assert.is(value(text, "hil_log_lines_shipped_total"), 127);
  assert.is(value(text, "hil_log_lines_dropped_total"), 3);
});

test("a scrape answers when the Redis probe fails or hangs, with the probe's limit as the round trip", async () => {
  const failing = new AgentMetrics();
  failing.probeRedis(() => Promise.reject(new Error("connection refused")));
  assert.is(value(await failing.registry.metrics(), "hil_redis_round_trip_seconds"), 2);
  const hanging = new AgentMetrics();
  hanging.probeRedis(() => new Promise(() => {}));
  const started = Date.now();
  const text = await hanging.registry.metrics();
  assert.ok(Date.now() - started < 10_000);
  assert.is(value(text, "hil_redis_round_trip_seconds"), 2);
  assert.is(value(text, "hil_log_lines_dropped_total"), 0, "the counters are served all the same");
  const quick = new AgentMetrics();
  quick.probeRedis(() => Promise.resolve("PONG"));
  assert.ok((value(await quick.registry.metrics(), "hil_redis_round_trip_seconds") ?? 1) < 1);
});

test.run();
