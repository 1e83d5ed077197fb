import type { Job, JobResult } from "@hil/contracts";
import type { Inventory } from "../inventory/inventory.js";
import type { BoardTarget } from "../runner/board-target.js";
import { runSuite } from "../runner/run-suite.js";
import type { ArtifactCache } from "./artifact-cache.js";
import type { JobContext, JobExecutor } from "./job-executor.js";

/**
 * Runs a job for real: artifacts resolved to local files (shared dir, cache or download), a
 * target opened per role from the inventory, the suite run by the step runner. Whatever the
 * runner calls infrastructure stays `error`; the worker maps anything thrown here the same way.
 */
export class SuiteJobExecutor implements JobExecutor {
  constructor(
    private readonly inventory: Pick<Inventory, "openTarget">,
    private readonly artifacts: ArtifactCache,
  ) {}

  async execute(job: Job, ctx: JobContext): Promise<JobResult> {
    const files: Record<string, string> = {};
    for (const [name, ref] of Object.entries(job.artifacts)) files[name] = await this.artifacts.resolve(ref);
    const targets: Record<string, BoardTarget> = {};
    try {
      for (const [role, boardId] of Object.entries(job.boards)) {
        targets[role] = await this.inventory.openTarget(boardId, { runId: job.runId, startSeq: ctx.startSeq(boardId) });
      }
      const result = await runSuite({
        suite: job.suite,
        targets,
        artifacts: files,
        runId: job.runId,
        signal: ctx.signal,
        onLog: ctx.onLog,
        onStep: ctx.onStep,
        timeoutMs: job.timeoutMs,
        // lines go to the log shipper as they come; matching keeps its own bounded window (ConsoleCapture)
        keepLog: false,
      });
      const out: JobResult = {
        runId: job.runId,
        attempt: job.attempt,
        outcome: result.outcome,
        steps: result.steps,
        cases: result.cases,
        durationMs: result.durationMs,
      };
      if (result.error) out.error = result.error;
      // The run's deadline ran out (not a step's own timeout): the scheduler ends the run timed-out, not failed.
      if (result.timedOut) out.error = { code: "RUN_TIMEOUT", message: result.error?.message ?? `the run's timeout of ${Math.round(job.timeoutMs / 1000)} s ran out` };
      return out;
    } finally {
      await Promise.allSettled(Object.values(targets).map((t) => t.close()));
    }
  }
}
