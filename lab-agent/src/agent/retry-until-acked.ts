import type { AgentLogger } from "./logger.js";

export interface RetryOptions {
  logger: AgentLogger;
  /** Fields for the warning logged at the first failure. */
  context?: Record<string, unknown>;
  /** Checked after each failure, with how long the write has been failing: true ends the retries with that failure. */
  giveUp?: (failingForMs: number) => boolean;
  firstWaitMs?: number;
  maxWaitMs?: number;
}

/**
 * Runs `write` until Redis acknowledges it, waiting longer after each failure (doubling up to `maxWaitMs`). For the
 * writes the lab cannot do without, a board's state and job-finished: dropped, they would leave a board `running`
 * in Redis for ever. `write` must be safe to repeat.
 */
export async function retryUntilAcked<T>(what: string, write: () => Promise<T>, opts: RetryOptions): Promise<T> {
  let wait = opts.firstWaitMs ?? 250;
  let firstFailure: number | undefined;
  for (let tries = 1; ; tries++) {
    try {
      const out = await write();
      if (tries > 1) opts.logger.info({ ...opts.context, tries }, `${what}: written after Redis came back`);
      return out;
    } catch (err) {
      firstFailure ??= Date.now();
      if (opts.giveUp?.(Date.now() - firstFailure)) throw err;
      if (tries === 1) opts.logger.warn({ ...opts.context, err: (err as Error).message }, `${what}: not written; retrying until Redis takes it`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(opts.maxWaitMs ?? 10_000, wait * 2);
    }
  }
}
