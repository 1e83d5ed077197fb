import { loadProfiles } from "@hil/device-profiles";
import { Inventory } from "../inventory/inventory.js";
import { androidConsole } from "./android-console.js";
import { ArtifactCache } from "./artifact-cache.js";
import type { AgentConfig } from "./config.js";
import { LabAgent } from "./lab-agent.js";
import type { AgentLogger } from "./logger.js";
import { SuiteJobExecutor } from "./suite-executor.js";
import { UsageError } from "./usage-error.js";

/** An agent whose boards come from the inventory (discovered USB boards, virtual ESP32s) and run real suites. */
export async function startInventoryAgent(config: AgentConfig, logger: AgentLogger): Promise<LabAgent> {
  if (!config.schedulerUrl && !config.artifactDir) {
    throw new UsageError("an agent that runs suites needs --scheduler-url (to fetch artifacts) or --artifact-dir (the scheduler's, on this machine)");
  }
  const profiles = await loadProfiles();
  const inventory = await Inventory.create({
    agent: config.name,
    profiles,
    discover: config.discover,
    log: (msg) => logger.info({}, msg),
  });
  try {
    if (config.virtualAndroid > 0) await inventory.addVirtualAndroid({ count: config.virtualAndroid });
    if (config.virtualEsp32 > 0) {
      await inventory.addVirtualEsp32({
        count: config.virtualEsp32,
        pace: config.pace,
        ...(config.scenario ? { scenario: config.scenario } : {}),
      });
    }
    const cache = new ArtifactCache({
      cacheDir: config.cacheDir ?? `.hil/agent-cache/${config.name}`,
      ...(config.schedulerUrl ? { schedulerUrl: config.schedulerUrl } : {}),
      ...(config.token ? { token: config.token } : {}),
      ...(config.artifactDir ? { artifactDir: config.artifactDir } : {}),
    });
    return await LabAgent.start(config, {
      boards: inventory,
      executor: new SuiteJobExecutor(inventory, cache),
      logger,
      // an idle console only ships lines: it keeps few for matching
      consoles: async (boardId, startSeq) => {
        const target = await inventory.openTarget(boardId, { runId: null, startSeq, consoleBuffer: 200 });
        return target.kind === "android" ? androidConsole(target) : target;
      },
      artifactFile: (ref) => cache.resolve(ref),
    });
  } catch (err) {
    await inventory.close();
    throw err;
  }
}
