import { UsageError } from "@hil/contracts";
import { loadProfiles, otaHeaderEnvNames, type DeviceProfile } from "@hil/device-profiles";
import type { FlashReport } from "../drivers/esp32/esp32-flash-driver.js";
import { Inventory } from "../inventory/inventory.js";
import { AgentMetrics } from "./agent-metrics.js";
import { androidConsole } from "./android-console.js";
import { ArtifactCache } from "./artifact-cache.js";
import type { AgentConfig } from "./config.js";
import { LabAgent } from "./lab-agent.js";
import type { AgentLogger } from "./logger.js";
import { SuiteJobExecutor } from "./suite-executor.js";

/** An agent whose boards come from the inventory (discovered USB boards, virtual ESP32s) and run real suites. */
export async function startInventoryAgent(config: AgentConfig, logger: AgentLogger): Promise<LabAgent> {
  if (!config.schedulerUrl && !config.artifactDir) {
    throw new UsageError("an agent that runs suites needs --scheduler-url (to fetch artifacts) or --artifact-dir (the scheduler's, on this machine)");
  }
  const profiles = await loadProfiles();
  // said at start, not first when a run's ota.trigger step stops on it
  for (const { profile, unset } of unsetTriggerSecrets(profiles.values(), process.env)) {
    logger.warn({ profile, unset }, `profile ${profile}: ota.trigger.headers name ${unset.join(", ")}, unset here; its ota.trigger steps stop until the agent starts with them`);
  }
  const metrics = config.metricsListen ? new AgentMetrics() : undefined;
  const inventory = await Inventory.create({
    agent: config.name,
    profiles,
    discover: config.discover,
    discoverAndroid: config.discover,
    adbConnect: config.adbConnect,
    log: (msg) => logger.info({}, msg),
    ...(metrics ? { onFlashed: (_board: string, profile: string, report: FlashReport) => metrics.flashed(profile, report) } : {}),
  });
  try {
    if (config.virtualAndroid > 0) {
      await inventory.addVirtualAndroid({ count: config.virtualAndroid, ...(config.virtualControlDir ? { controlDir: config.virtualControlDir } : {}) });
    }
    if (config.virtualEsp32 > 0) {
      await inventory.addVirtualEsp32({
        count: config.virtualEsp32,
        pace: config.pace,
        ...(config.scenario ? { scenario: config.scenario } : {}),
        ...(config.virtualControlDir ? { controlDir: config.virtualControlDir } : {}),
      });
    }
    const cache = new ArtifactCache({
      cacheDir: config.cacheDir,
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
      powerCycle: (boardId) => inventory.powerCycle(boardId),
      ...(metrics ? { metrics } : {}),
    });
  } catch (err) {
    await inventory.close();
    throw err;
  }
}

/** Profiles whose OTA trigger sends `{env:NAME}` this environment lacks, with those names. */
export function unsetTriggerSecrets(profiles: Iterable<DeviceProfile>, env: Readonly<Record<string, string | undefined>>): { profile: string; unset: string[] }[] {
  const out: { profile: string; unset: string[] }[] = [];
  for (const profile of profiles) {
    const trigger = profile.kind === "esp32" ? profile.ota?.trigger : undefined;
    if (trigger?.via !== "http") continue;
    const unset = otaHeaderEnvNames(trigger.headers).filter((name) => !env[name]);
    if (unset.length > 0) out.push({ profile: profile.id, unset });
  }
  return out;
}
