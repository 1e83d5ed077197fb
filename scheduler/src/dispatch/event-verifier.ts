import type { AgentEvent } from "@hil/contracts";
import { readEventFields, verifyEventSignature } from "@hil/lab-protocol";
import type { AgentKeyring } from "../auth/agent-keyring.js";

export type AgentAuthMode = "required" | "off";

/**
 * Decides whether an agent event may be applied: it must be signed (stream fields `agent`, `sig`) by an
 * agent with a valid token of role agent, and name that agent as its author. With `HIL_AGENT_AUTH=off`
 * everything passes (a lab that trusts whatever can write to its Redis).
 */
export class EventVerifier {
  constructor(
    private readonly keyring: AgentKeyring,
    readonly mode: AgentAuthMode,
  ) {}

  /** Why the entry must not be applied, or undefined when it may. `ev` is the decoded `json` field. */
  async reject(fields: readonly string[], ev: AgentEvent, now = Date.now()): Promise<string | undefined> {
    if (this.mode === "off") return undefined;
    const { json, agent, sig } = readEventFields(fields);
    if (json === undefined || !agent || !sig) return "unsigned event: no agent or sig field";
    if (ev.agent !== agent) return `the event names agent ${ev.agent} but is signed as agent ${agent}`;
    if (ev.type === "board-changed" && ev.board.agent !== agent) return `agent ${agent} announced board ${ev.board.id} for agent ${ev.board.agent}`;
    const keys = await this.keyring.keysOf(agent, now);
    if (keys.length === 0) return `unknown or revoked agent ${agent}: no valid token of role agent by that name`;
    if (!keys.some((k) => verifyEventSignature(k, agent, json, sig))) return `bad signature: not signed with a token of agent ${agent}`;
    return undefined;
  }
}
