import { join } from "node:path";
import { FakeAgent } from "./fake-agent.js";
import { freshNamespace, startScheduler, type Running } from "./harness.js";

/**
 * A scheduler on a fresh namespace and artifact directory (`<baseDir>/<ns>`), with board dk1 registered
 * by an agent that is not running: runs are accepted and stay queued. What it starts is stopped by
 * the functions it pushes onto `cleanups`.
 */
export async function schedulerWithOfflineBoard(
  redisUrl: string,
  baseDir: string,
  cleanups: (() => Promise<void>)[],
  extra: Record<string, string> = {},
  ns = freshNamespace(),
): Promise<Running & { dir: string }> {
  const dir = join(baseDir, ns);
  const s = await startScheduler(redisUrl, ns, dir, extra);
  cleanups.push(() => s.svc.stop());
  const agent = new FakeAgent(redisUrl, ns, "bench1", [{ id: "dk1", profile: "esp32-devkitc" }]);
  await agent.register(false);
  cleanups.push(() => agent.stop());
  return Object.assign(s, { dir });
}
