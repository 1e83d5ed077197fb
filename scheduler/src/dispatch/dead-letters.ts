import type { RedisClient } from "@hil/lab-protocol/redis";
import type { Logger } from "pino";
import { AgentEventSchema, type AgentEvent, type LabKeys } from "@hil/contracts";

/** Entries kept in the dead-letter stream (approximately: trimmed with MAXLEN ~). */
export const DEAD_LETTERS_MAX = 10_000;
/** An event whose handler failed this many deliveries goes to the dead letters instead of wedging its run's events. */
export const MAX_DELIVERIES = 5;
/** A payload is kept up to this size in the dead letters: enough to read what went wrong. */
const PAYLOAD_KEEP = 64 * 1024;

/** A stream entry's field value (fields alternate name, value). */
function fieldOf(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

export type DecodedEvent = { ok: true; ev: AgentEvent } | { ok: false; reason: string };

/** One stream entry as an agent event, or why it is not one (never throws). */
export function decodeEvent(fields: string[]): DecodedEvent {
  const raw = fieldOf(fields, "json");
  if (raw === undefined) return { ok: false, reason: "the entry has no json field" };
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (err) {
    return { ok: false, reason: `the json field is not JSON (${(err as Error).message})` };
  }
  const parsed = AgentEventSchema.safeParse(value);
  if (parsed.success) return { ok: true, ev: parsed.data };
  const issues = parsed.error.issues.slice(0, 5).map((x) => `${x.path.join(".") || "(event)"}: ${x.message}`);
  return { ok: false, reason: `the event does not match the contract (${issues.join("; ")})` };
}

/**
 * The dead-letter stream (`keys.deadLetters()`): agent events moved aside with the reason, so that one
 * bad entry neither blocks the entries behind it nor is lost without trace. Read it with
 * `XRANGE {ns}:events:dead - +`; each entry holds the original id, the reason, the payload and when.
 */
export class DeadLetters {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    private readonly log: Logger,
  ) {}

  /** Records the entry; the caller acks it in the events stream afterwards. */
  async put(id: string, fields: string[], reason: string): Promise<void> {
    const payload = fieldOf(fields, "json") ?? JSON.stringify(fields);
    await this.redis.xadd(
      this.keys.deadLetters(),
      "MAXLEN",
      "~",
      DEAD_LETTERS_MAX,
      "*",
      "id",
      id,
      "reason",
      reason,
      "json",
      payload.slice(0, PAYLOAD_KEEP),
      "at",
      String(Date.now()),
    );
    this.log.warn({ id, reason }, "agent event moved to the dead letters");
  }

  /** How many times the consumer group has delivered this pending entry (0 when it is not pending). */
  async deliveries(stream: string, group: string, id: string): Promise<number> {
    const rows = (await this.redis.xpending(stream, group, id, id, 1)) as [string, string, number, number][];
    return Number(rows[0]?.[3] ?? 0);
  }
}
