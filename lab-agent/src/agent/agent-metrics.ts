import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { FlashReport } from "../drivers/esp32/esp32-flash-driver.js";

/** Longest a scrape waits for the Redis round trip. */
const PROBE_LIMIT_MS = 2000;

/** What the log shipper reports after each batch: lines written, and lines lost (Redis refused them or the write failed). */
export interface LogShipperMetrics {
  lines(shipped: number, dropped: number): void;
}

/**
 * The agent's own Prometheus metrics (docs/metrics.md): what only the agent sees, flashing and log
 * shipping. Board and run gauges are the scheduler's (read from Redis, the same on every replica).
 */
export class AgentMetrics implements LogShipperMetrics {
  readonly registry = new Registry();
  private readonly flashSeconds = new Histogram({
    name: "hil_flash_duration_seconds",
    help: "Whole ESP32 flash (loader sync, stub, erase, write, verify), by board profile.",
    labelNames: ["profile"],
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
    registers: [this.registry],
  });
  private readonly flashThroughput = new Histogram({
    name: "hil_flash_throughput_bytes_per_second",
    help: "Bytes written per second of one flash that wrote something, by board profile.",
    labelNames: ["profile"],
    buckets: [4096, 16_384, 32_768, 65_536, 131_072, 262_144, 524_288, 1_048_576, 4_194_304],
    registers: [this.registry],
  });
  private readonly flashBytes = new Counter({
    name: "hil_flash_bytes_total",
    help: "Bytes written to boards' flash, by board profile.",
    labelNames: ["profile"],
    registers: [this.registry],
  });
  private readonly flashes = new Counter({
    name: "hil_flashes_total",
    help: "Successful flashes, by board profile and result (written, or unchanged: every image was on the board already).",
    labelNames: ["profile", "result"],
    registers: [this.registry],
  });
  private readonly shipped = new Counter({
    name: "hil_log_lines_shipped_total",
    help: "Log lines written to Redis (board and run streams).",
    registers: [this.registry],
  });
  private readonly dropped = new Counter({
    name: "hil_log_lines_dropped_total",
    help: "Log lines lost: Redis refused them or their batch could not be written. Stays 0 on a healthy lab.",
    registers: [this.registry],
  });
  private probe: (() => Promise<unknown>) | undefined;

  constructor() {
    const metrics = this;
    new Gauge({
      name: "hil_redis_round_trip_seconds",
      help: `Time of one PING to Redis, measured at scrape time (${PROBE_LIMIT_MS / 1000} s when it failed or took longer).`,
      registers: [this.registry],
      async collect() {
        if (!metrics.probe) return;
        const started = process.hrtime.bigint();
        // during an outage the scrape still answers (the dropped-lines counter matters most then)
        let timer: NodeJS.Timeout | undefined;
        const limit = new Promise<void>((resolve) => (timer = setTimeout(resolve, PROBE_LIMIT_MS)));
        const ok = await Promise.race([metrics.probe().then(() => true, () => false), limit.then(() => false)]);
        clearTimeout(timer);
        this.set(ok ? Number(process.hrtime.bigint() - started) / 1e9 : PROBE_LIMIT_MS / 1000);
      },
    });
    // zero from the start: "no data" on a dashboard would hide a healthy 0
    this.shipped.inc(0);
    this.dropped.inc(0);
  }

  /** The round trip measured at scrape time (the agent's command connection). */
  probeRedis(ping: () => Promise<unknown>): void {
    this.probe = ping;
  }

  flashed(profile: string, report: Pick<FlashReport, "bytesWritten" | "seconds" | "alreadyFlashed">): void {
    this.flashSeconds.observe({ profile }, report.seconds);
    this.flashBytes.inc({ profile }, report.bytesWritten);
    this.flashes.inc({ profile, result: report.alreadyFlashed ? "unchanged" : "written" });
    if (report.bytesWritten > 0 && report.seconds > 0) this.flashThroughput.observe({ profile }, report.bytesWritten / report.seconds);
  }

  lines(shipped: number, dropped: number): void {
    if (shipped > 0) this.shipped.inc(shipped);
    if (dropped > 0) this.dropped.inc(dropped);
  }
}
