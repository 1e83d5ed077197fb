import type { Job, JobResult } from "@hil/contracts";
import type { JobContext, JobExecutor } from "./job-executor.js";

/** Passes every job at once: the agent's Redis/BullMQ path stays real, the board work is skipped. */
export class InstantExecutor implements JobExecutor {
  async execute(job: Job, ctx: JobContext): Promise<JobResult> {
    if (ctx.signal.aborted) {
      return { runId: job.runId, attempt: job.attempt, outcome: "cancelled", steps: [], cases: [], durationMs: 0 };
    }
    return { runId: job.runId, attempt: job.attempt, outcome: "pass", steps: [], cases: [], durationMs: 0 };
  }
}
