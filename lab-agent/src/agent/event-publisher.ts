import { AgentEventSchema, type AgentEvent, type LabKeys } from "@hil/contracts";
import type { Redis } from "ioredis";

export const EVENTS_MAXLEN = "100000";

/** Appends agent → scheduler events to the shared stream; the schedulers' consumer group applies them. */
export class EventPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly keys: LabKeys,
  ) {}

  /** The stream entry's payload, validated: for callers that add it inside a script or pipeline. */
  encode(event: AgentEvent): string {
    return JSON.stringify(AgentEventSchema.parse(event));
  }

  async publish(event: AgentEvent): Promise<string | null> {
    // Parsing here catches a malformed event on the side that made it, not in a scheduler's log.
    const checked = AgentEventSchema.parse(event);
    return this.redis.xadd(this.keys.events(), "MAXLEN", "~", EVENTS_MAXLEN, "*", "json", JSON.stringify(checked));
  }
}
