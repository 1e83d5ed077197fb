import type { AgentConfig } from "./config.js";
import { InstantBoardProvider } from "./instant-boards.js";
import { InstantExecutor } from "./instant-executor.js";
import { LabAgent } from "./lab-agent.js";
import type { AgentLogger } from "./logger.js";

/**
 * Builds the agent a config asks for. Instant boards need nothing but Redis; real and virtual
 * boards come from the inventory and run through the step runner.
 */
export async function startConfiguredAgent(config: AgentConfig, logger: AgentLogger): Promise<LabAgent> {
  if (config.instantBoards > 0) {
    const boards = new InstantBoardProvider({
      agent: config.name,
      count: config.instantBoards,
      profile: config.instantProfile,
      labels: config.labels,
    });
    return LabAgent.start(config, { boards, executor: new InstantExecutor(config.instantHoldMs), logger });
  }
  const { startInventoryAgent } = await import("./inventory-agent.js");
  return startInventoryAgent(config, logger);
}
