import { UsageError } from "./usage-error.js";
import type { AgentConfig } from "./config.js";
import type { LabAgent } from "./lab-agent.js";
import type { AgentLogger } from "./logger.js";

/** Placeholder until the inventory and step runner land: real/virtual boards are not wired yet. */
export async function startInventoryAgent(config: AgentConfig, logger: AgentLogger): Promise<LabAgent> {
  void logger;
  throw new UsageError(
    `agent ${config.name}: virtual and discovered boards need the step runner, which is not wired in yet; use --instant for now`,
  );
}
