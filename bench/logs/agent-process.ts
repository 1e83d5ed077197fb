/**
 * The agent under test, in a process of its own: a real LabAgent (board registry, idle consoles, LogShipper) whose
 * boards are the bench's line boards. Each idle console is opened as the inventory opens a virtual ESP32's
 * (createLink → Rfc2217Link, createEsp32Target → ConsoleCapture), so every line travels the agent's real path:
 * RFC 2217 link → console capture (split, stamp, sequence) → log shipper (batched XADD) → Redis.
 *
 *   (forked by bench/logs.ts) agent-process.ts --redis URL --namespace NS --name NAME --boards id=url,…
 */
import { parseArgs } from "node:util";
import type { Board } from "@hil/contracts";
import { loadProfiles } from "@hil/device-profiles";
import { createAgentLogger, createEsp32Target, createLink, InstantExecutor, LabAgent, parseAgentConfig, type BoardProvider } from "@hil/lab-agent";

const PROFILE = "esp32-virtual";

const { values: args } = parseArgs({
  options: {
    redis: { type: "string" },
    namespace: { type: "string" },
    name: { type: "string", default: "logbench" },
    boards: { type: "string", default: "" },
  },
});

const profile = (await loadProfiles()).get(PROFILE);
if (profile?.kind !== "esp32") throw new Error(`device profile ${PROFILE} is missing or not an ESP32 profile`);
const endpoints = new Map(
  (args.boards ?? "")
    .split(",")
    .filter(Boolean)
    .map((pair) => pair.split("=") as [string, string]),
);
const config = parseAgentConfig({
  redisUrl: args.redis ?? "",
  name: args.name ?? "logbench",
  namespace: args.namespace,
  redisAcl: "off",
  discover: false,
});
const boards: Board[] = [...endpoints].map(([id, url]) => ({
  id,
  profile: PROFILE,
  agent: config.name,
  identity: {},
  state: "idle",
  labels: { ...profile.labels },
  endpoint: url,
  virtual: true,
  health: 100,
  updatedAt: Date.now(),
}));
const provider: BoardProvider = {
  list: () => boards,
  onAdded: () => ({ dispose() {} }),
  onRemoved: () => ({ dispose() {} }),
  close: async () => {},
};
const agent = await LabAgent.start(config, {
  boards: provider,
  executor: new InstantExecutor(),
  logger: createAgentLogger(config.name, "warn"),
  consoles: (boardId, startSeq) =>
    createEsp32Target({
      boardId,
      profile,
      link: createLink(endpoints.get(boardId) ?? "", { baudRate: profile.serial?.baud ?? 115200 }),
      startSeq,
      runId: null,
      consoleBuffer: 200,
    }),
});
process.stdout.write(`bench agent ready with ${boards.length} boards\n`);

const stop = () => void agent.stop().finally(() => process.exit(0));
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
