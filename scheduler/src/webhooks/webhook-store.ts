import { randomUUID } from "node:crypto";
import { decodeJson, type LabKeys } from "@hil/contracts";
import type { RedisClient } from "@hil/lab-protocol/redis";
import { z } from "zod";

export const WebhookRecordSchema = z
  .object({
    id: z.string(),
    /** The principal whose runs it reports (a token's or account's name). */
    owner: z.string(),
    url: z.string(),
    /** Signs the deliveries; kept because every delivery needs it, never shown by the API. */
    secret: z.string(),
    createdAt: z.number().int(),
  })
  .strict();
export type WebhookRecord = z.infer<typeof WebhookRecordSchema>;
export type WebhookView = Omit<WebhookRecord, "secret">;

/** A principal's webhooks: enough for a few CI systems and receivers, few enough to keep every run end cheap. */
export const MAX_WEBHOOKS_PER_OWNER = 10;

export function webhookView(r: WebhookRecord): WebhookView {
  const { secret: _secret, ...view } = r;
  return view;
}

/** Webhooks registered through the API (`POST /webhooks`), one Redis hash: id → record. */
export class WebhookStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
  ) {}

  async list(owner?: string): Promise<WebhookRecord[]> {
    const all = await this.redis.hvals(this.keys.webhooks());
    return all
      .flatMap((raw) => decodeJson(WebhookRecordSchema, raw) ?? [])
      .filter((r) => owner === undefined || r.owner === owner)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  async get(id: string): Promise<WebhookRecord | undefined> {
    return decodeJson(WebhookRecordSchema, await this.redis.hget(this.keys.webhooks(), id));
  }

  async create(input: { owner: string; url: string; secret: string }, now = Date.now()): Promise<WebhookRecord> {
    const record: WebhookRecord = { id: randomUUID(), ...input, createdAt: now };
    await this.redis.hset(this.keys.webhooks(), record.id, JSON.stringify(record));
    return record;
  }

  async remove(id: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.webhooks(), id)) > 0;
  }
}
