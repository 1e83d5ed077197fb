import type { Job, JobResult } from "@hil/contracts";
import type { JobContext, JobExecutor } from "./job-executor.js";

/**
 * Passes every job, at once or after holding the board for `holdMs`: the agent's Redis/BullMQ
 * path stays real, the board work is skipped. A hold lets tests cancel or kill mid-run.
 */
export class InstantExecutor implements JobExecutor {
  constructor(private readonly holdMs = 0) {}

  async execute(job: Job, ctx: JobContext): Promise<JobResult> {
    const started = Date.now();
    if (this.holdMs > 0 && !ctx.signal.aborted) {
      const board = Object.values(job.boards)[0] ?? "";
      ctx.onLog({ board, run: job.runId, seq: 0, mono: performance.now(), wall: Date.now(), stream: "agent", text: `holding ${board} for ${this.holdMs} ms` });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.holdMs);
        ctx.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
    const outcome = ctx.signal.aborted ? "cancelled" : "pass";
    return { runId: job.runId, attempt: job.attempt, outcome, steps: [], cases: [], durationMs: Date.now() - started };
  }
}
