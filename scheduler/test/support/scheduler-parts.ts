import { pino } from "pino";
import { createSchedulerApp } from "../../src/app.js";
import { loadSchedulerConfig } from "../../src/config.js";
import type { SchedulerContext } from "../../src/context.js";
import { Reaper } from "../../src/dispatch/reaper.js";
import { RunLifecycle } from "../../src/dispatch/run-lifecycle.js";
import { ADMIN, freshNamespace, TEST_CATALOG } from "./harness.js";

export interface SchedulerParts {
  ctx: SchedulerContext;
  lifecycle: RunLifecycle;
  reaper: Reaper;
}

/**
 * The scheduler's parts without its loops, in a fresh namespace: nothing runs unless the test calls it.
 * `artifactDir` gets the namespace; stopping is pushed onto `cleanups`.
 */
export function schedulerParts(redisUrl: string, artifactDir: (ns: string) => string, cleanups: (() => Promise<void>)[]): SchedulerParts {
  const ns = freshNamespace();
  const config = loadSchedulerConfig({ REDIS_URL: redisUrl, HIL_NAMESPACE: ns, HIL_ADMIN_TOKEN: ADMIN, HIL_ARTIFACT_DIR: artifactDir(ns), HIL_PORT: "0" });
  const svc = createSchedulerApp(config, { catalog: TEST_CATALOG, logger: pino({ level: "silent" }) });
  const ctx: SchedulerContext = { ...svc.context, wake: () => {} };
  const lifecycle = new RunLifecycle(ctx);
  cleanups.push(async () => {
    await lifecycle.drain();
    await svc.stop();
  });
  return { ctx, lifecycle, reaper: new Reaper(ctx, lifecycle) };
}
