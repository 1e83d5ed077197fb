import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Agents sign what they append to `keys.events()` so a scheduler applies only what an agent it
 * knows wrote. The signing key is derived from the agent's API token (role `agent`, named after the
 * agent): the scheduler stores the derived key beside the token's hash, so it verifies without ever
 * holding the token, and the key opens nothing of the HTTP API.
 *
 *   eventKey = HMAC-SHA256(key = token, "hil-agent-events-v1")            (32 bytes, kept as hex)
 *   sig      = HMAC-SHA256(key = eventKey, "hil-event-v1\n" + agent + "\n" + json)   (hex)
 *
 * The stream entry carries `json` (the AgentEvent), `agent` (the signer's name) and `sig`.
 */
export const EVENT_KEY_CONTEXT = "hil-agent-events-v1";
const SIGNED_PREFIX = "hil-event-v1\n";

/** The event-signing key of a token, hex. Same input, same key: config tokens derive it at start. */
export function deriveEventKey(token: string): string {
  return createHmac("sha256", token).update(EVENT_KEY_CONTEXT).digest("hex");
}

export function signEvent(eventKeyHex: string, agent: string, json: string): string {
  return createHmac("sha256", Buffer.from(eventKeyHex, "hex")).update(`${SIGNED_PREFIX}${agent}\n${json}`).digest("hex");
}

/** Constant-time check of one signature against one key. */
export function verifyEventSignature(eventKeyHex: string, agent: string, json: string, sig: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(sig)) return false;
  return timingSafeEqual(Buffer.from(signEvent(eventKeyHex, agent, json), "hex"), Buffer.from(sig, "hex"));
}
