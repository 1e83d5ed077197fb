import { createHash } from "node:crypto";
import { decodeJson, type LabKeys, type Run } from "@hil/contracts";
import type { RedisClient } from "@hil/lab-protocol/redis";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { z } from "zod";
import type { SchedulerConfig } from "../config.js";
import { runFinishedPayload } from "./run-finished-payload.js";
import { postWebhook, type WebhookAttemptResult, type WebhookPost } from "./webhook-sender.js";
import { signWebhook, WEBHOOK_HEADERS } from "./webhook-signature.js";
import type { WebhookStore } from "./webhook-store.js";

const DeliverySchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    /** The lab's own URL (HIL_WEBHOOKS), or a webhook registered through the API (its secret is looked up at send time). */
    target: z.union([z.object({ kind: z.literal("lab"), url: z.string() }).strict(), z.object({ kind: z.literal("hook"), hookId: z.string() }).strict()]),
    /** The exact bytes every attempt sends (the signature covers them). */
    body: z.string(),
    attempts: z.number().int().nonnegative(),
    createdAt: z.number().int(),
    lastError: z.string().optional(),
  })
  .strict();
type Delivery = z.infer<typeof DeliverySchema>;

/**
 * enqueue-webhook (2 keys): KEYS[1] the due zset, KEYS[2] the delivery · ARGV[1] delivery JSON, ARGV[2] due time,
 * ARGV[3] TTL of the delivery in ms. Stores the delivery once (a second enqueue of the same id changes nothing).
 */
const ENQUEUE = `
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
  return 1
end
return 0
`;

/**
 * claim-webhook (1 key): KEYS[1] the due zset · ARGV[1] delivery id, ARGV[2] now, ARGV[3] until. A due delivery is
 * pushed to `until` (past one attempt's deadline) and taken by this caller only; one whose process dies mid-send
 * comes due again then. Returns 1 when claimed.
 */
const CLAIM = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
`;

/** Deliveries kept at most this long, whatever their retries say (a safety net against strays). */
const DELIVERY_TTL_MS = 7 * 86_400_000;
const MAX_BACKOFF_MS = 3_600_000;
const BATCH = 16;

export interface WebhookOutboxDeps {
  redis: RedisClient;
  keys: LabKeys;
  config: SchedulerConfig;
  store: WebhookStore;
  log: Logger;
  registry: Registry;
  /** One POST; tests of the retry policy may pass their own. */
  post?: (p: WebhookPost) => Promise<WebhookAttemptResult>;
}

/**
 * Signed `run.finished` webhooks (docs/webhooks.md). A run's end only writes its deliveries to Redis; a loop
 * sends them, retries failures with exponential backoff up to `webhookAttempts`, and picks up where any
 * replica left off after a restart (deliveries and their due times live in Redis, claims expire).
 */
export class WebhookOutbox {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly post: (p: WebhookPost) => Promise<WebhookAttemptResult>;
  private readonly results: Counter;

  constructor(private readonly deps: WebhookOutboxDeps) {
    this.post = deps.post ?? postWebhook;
    this.results = new Counter({
      name: "hil_webhook_deliveries_total",
      help: "Webhook delivery attempts by result: delivered, retry (failed, tried again later) or given-up.",
      labelNames: ["result"],
      registers: [deps.registry],
    });
    for (const result of ["delivered", "retry", "given-up"]) this.results.inc({ result }, 0);
    const { redis, keys } = deps;
    new Gauge({
      name: "hil_webhook_deliveries_pending",
      help: "Webhook deliveries not yet delivered or given up (read from Redis).",
      registers: [deps.registry],
      async collect() {
        this.set(await redis.zcard(keys.webhookDue()));
      },
    });
  }

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.wake(), Math.min(1000, Math.max(100, this.deps.config.tickMs)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /**
   * A run ended: its deliveries are written and the loop woken. Never throws and returns at once, so a run's
   * end does not wait for Redis lookups, let alone receivers.
   */
  runEnded(run: Run): void {
    this.enqueue(run).then(
      (n) => n > 0 && this.wake(),
      (err: unknown) => this.deps.log.error({ err, run: run.id }, "could not queue the run's webhooks; they are not sent"),
    );
  }

  private async enqueue(run: Run): Promise<number> {
    const { config, store, redis, keys } = this.deps;
    const hooks = await store.list(run.submitter);
    if (config.webhooks.length === 0 && hooks.length === 0) return 0;
    const body = JSON.stringify(runFinishedPayload(run, config.publicUrl));
    const now = Date.now();
    const targets: { id: string; target: Delivery["target"] }[] = [
      ...config.webhooks.map((url) => ({ id: `${run.id}.lab-${createHash("sha256").update(url).digest("hex").slice(0, 12)}`, target: { kind: "lab" as const, url } })),
      ...hooks.map((h) => ({ id: `${run.id}.${h.id}`, target: { kind: "hook" as const, hookId: h.id } })),
    ];
    let queued = 0;
    for (const t of targets) {
      const delivery: Delivery = { id: t.id, runId: run.id, target: t.target, body, attempts: 0, createdAt: now };
      queued += (await redis.eval(ENQUEUE, 2, keys.webhookDue(), keys.webhookDelivery(t.id), JSON.stringify(delivery), now, DELIVERY_TTL_MS, t.id)) as number;
    }
    return queued;
  }

  /** Runs a pass soon; a pass that is running now runs once more after it. */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.passes().finally(() => (this.running = undefined));
  }

  private async passes(): Promise<void> {
    do {
      this.again = false;
      try {
        if ((await this.pass()) === BATCH) this.again = true;
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, "webhook pass failed; retrying next tick");
      }
    } while (this.again && !this.stopped);
  }

  /** Sends what is due (up to BATCH at once); returns how many were due. */
  private async pass(): Promise<number> {
    const { redis, keys, config } = this.deps;
    const now = Date.now();
    const due = await redis.zrangebyscore(keys.webhookDue(), "-inf", now, "LIMIT", 0, BATCH);
    const until = now + config.webhookTimeoutMs + 30_000;
    await Promise.all(
      due.map(async (id) => {
        if ((await redis.eval(CLAIM, 1, keys.webhookDue(), id, now, until)) !== 1) return;
        await this.attempt(id);
      }),
    );
    return due.length;
  }

  private async attempt(id: string): Promise<void> {
    const { redis, keys, config, log } = this.deps;
    const delivery = decodeJson(DeliverySchema, await redis.get(keys.webhookDelivery(id)));
    if (!delivery) {
      await redis.zrem(keys.webhookDue(), id);
      return;
    }
    const target = await this.resolve(delivery);
    if (!target) {
      log.warn({ delivery: id, run: delivery.runId }, "webhook delivery dropped: its webhook was deleted or the lab has no HIL_WEBHOOK_SECRET");
      await this.forget(id);
      return;
    }
    const timestamp = Math.floor(Date.now() / 1000);
    const result = await this.post({
      url: target.url,
      body: delivery.body,
      headers: {
        [WEBHOOK_HEADERS.signature]: signWebhook(target.secret, timestamp, delivery.body),
        [WEBHOOK_HEADERS.timestamp]: String(timestamp),
        [WEBHOOK_HEADERS.delivery]: delivery.id,
        [WEBHOOK_HEADERS.event]: "run.finished",
      },
      checkAddress: delivery.target.kind === "hook",
      allowHosts: config.webhookAllowHosts,
      timeoutMs: config.webhookTimeoutMs,
    });
    const attempts = delivery.attempts + 1;
    if (result.ok) {
      this.results.inc({ result: "delivered" });
      log.info({ delivery: id, run: delivery.runId, attempts, status: result.status }, "webhook delivered");
      await this.forget(id);
      return;
    }
    if (attempts >= config.webhookAttempts) {
      this.results.inc({ result: "given-up" });
      log.warn({ delivery: id, run: delivery.runId, url: target.url, attempts, reason: result.reason }, "webhook given up after its last attempt");
      await this.forget(id);
      return;
    }
    this.results.inc({ result: "retry" });
    const delay = Math.min(config.webhookBackoffMs * 2 ** (attempts - 1), MAX_BACKOFF_MS);
    log.info({ delivery: id, run: delivery.runId, attempts, reason: result.reason, retryInMs: delay }, "webhook delivery failed; retrying");
    const next: Delivery = { ...delivery, attempts, lastError: result.reason };
    await redis.set(keys.webhookDelivery(id), JSON.stringify(next), "PX", DELIVERY_TTL_MS);
    await redis.zadd(keys.webhookDue(), Date.now() + delay, id);
  }

  private async resolve(d: Delivery): Promise<{ url: string; secret: string } | undefined> {
    if (d.target.kind === "lab") {
      const secret = this.deps.config.webhookSecret;
      return secret ? { url: d.target.url, secret } : undefined;
    }
    const hook = await this.deps.store.get(d.target.hookId);
    return hook ? { url: hook.url, secret: hook.secret } : undefined;
  }

  private async forget(id: string): Promise<void> {
    await Promise.all([this.deps.redis.del(this.deps.keys.webhookDelivery(id)), this.deps.redis.zrem(this.deps.keys.webhookDue(), id)]);
  }
}
