import type { Job, JobResult, LogLine, StepResult } from "@hil/contracts";

export interface JobContext {
  signal: AbortSignal;
  /** Where each board's next line should start (the shipper re-stamps anything older). */
  startSeq(boardId: string): number;
  onLog(line: LogLine): void;
  onStep(step: StepResult): void;
}

/** Runs one job on boards the agent holds leases for; infrastructure errors stay `error`, never `fail`. */
export interface JobExecutor {
  execute(job: Job, ctx: JobContext): Promise<JobResult>;
  close?(): Promise<void>;
}
