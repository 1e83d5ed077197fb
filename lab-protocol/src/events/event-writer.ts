import { AgentEventSchema, type AgentEvent, type LabKeys } from "@hil/contracts";
import type { RedisClient } from "../redis/redis-client.js";
import { deriveEventKey, signEvent } from "./event-signature.js";

/** Approximate cap of the events stream (`XADD … MAXLEN ~`). */
export const EVENTS_MAXLEN = "100000";

/** One stream entry: `json`, `agent`, `sig` (empty when the agent has no token), as XADD field/value pairs. */
export interface SignedEvent {
  readonly json: string;
  readonly agent: string;
  readonly sig: string;
}

export function signedEventFields(e: SignedEvent): [string, string, string, string, string, string] {
  return ["json", e.json, "agent", e.agent, "sig", e.sig];
}

/** The signed fields of a stream entry as read back (XRANGE / XREADGROUP field list); absent ones stay undefined. */
export function readEventFields(fields: readonly string[]): Partial<SignedEvent> {
  const out: { json?: string; agent?: string; sig?: string } = {};
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const k = fields[i];
    const v = fields[i + 1];
    if (k === "json" || k === "agent" || k === "sig") out[k] ??= v;
  }
  return out;
}

/**
 * Signs and appends one agent's events. Every event is validated here, on the side that made it,
 * and must name this agent: the scheduler drops an event whose `agent` is not its signer.
 * Without a token the events go unsigned, which only a scheduler with HIL_AGENT_AUTH=off applies.
 */
export class EventWriter {
  private readonly eventKey: string | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    readonly agent: string,
    /** The agent's API token (role agent, named after the agent); only the key derived from it is kept. */
    token: string | undefined,
  ) {
    this.eventKey = token === undefined ? undefined : deriveEventKey(token);
  }

  get signs(): boolean {
    return this.eventKey !== undefined;
  }

  /** The signed entry, for callers that append it inside a script or a pipeline. */
  sign(event: AgentEvent): SignedEvent {
    const checked = AgentEventSchema.parse(event);
    if (checked.agent !== this.agent) throw new Error(`event names agent "${checked.agent}" but is signed by "${this.agent}"`);
    const json = JSON.stringify(checked);
    return { json, agent: this.agent, sig: this.eventKey === undefined ? "" : signEvent(this.eventKey, this.agent, json) };
  }

  async publish(event: AgentEvent): Promise<string | null> {
    return this.redis.xadd(this.keys.events(), "MAXLEN", "~", EVENTS_MAXLEN, "*", ...signedEventFields(this.sign(event)));
  }
}
