import { join } from "node:path";
import { makeTempDir } from "@hil/test-kit";
import { pino } from "pino";
import type { Test } from "uvu";
import { createSchedulerApp } from "../../src/app.js";
import { loadSchedulerConfig } from "../../src/config.js";
import type { SchedulerContext } from "../../src/context.js";
import { Reaper } from "../../src/dispatch/reaper.js";
import { RunLifecycle } from "../../src/dispatch/run-lifecycle.js";
import { startPrivateRedis, type PrivateRedis } from "../../src/redis/index.js";
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
function schedulerParts(redisUrl: string, artifactDir: (ns: string) => string, cleanups: (() => Promise<void>)[]): SchedulerParts {
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

export interface PartsBench {
  /** The scheduler's parts in a fresh namespace, stopped after the test; artifacts in `artifactDir`, else in a folder of the namespace's. */
  parts(artifactDir?: string): SchedulerParts;
  /** Runs `cleanup` after the test, in reverse order with the parts'. */
  afterTest(cleanup: () => Promise<void>): void;
  /** The file's redis-server. */
  readonly redisUrl: string;
  /** The file's temp dir. */
  readonly dir: string;
}

/**
 * For a file of tests on the scheduler's parts: one private redis-server and temp dir for the file, started and
 * removed by hooks on `t`, and each test's parts stopped after it (last made, first stopped).
 */
export function usePartsBench(t: Test, tmpPrefix: string): PartsBench {
  let redis: PrivateRedis | undefined;
  let tmp: { dir: string; remove(): Promise<void> } | undefined;
  const cleanups: (() => Promise<void>)[] = [];
  const started = () => {
    if (!redis || !tmp) throw new Error("the bench starts in the test file's before hook");
    return { redis, tmp };
  };
  t.before(async () => {
    redis = await startPrivateRedis();
    tmp = await makeTempDir(tmpPrefix);
  });
  t.after(async () => {
    await redis?.stop();
    await tmp?.remove();
  });
  t.after.each(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });
  return {
    parts: (artifactDir) => schedulerParts(started().redis.url, (ns) => artifactDir ?? join(started().tmp.dir, ns), cleanups),
    afterTest: (cleanup) => void cleanups.push(cleanup),
    get redisUrl() {
      return started().redis.url;
    },
    get dir() {
      return started().tmp.dir;
    },
  };
}
