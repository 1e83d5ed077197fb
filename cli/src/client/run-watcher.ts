import type { LogLine } from "@hil/contracts";
import type { HilClient, RunView } from "./hil-client.js";
import { isTerminal } from "./run-outcome.js";

export interface WatchOptions {
  pollMs?: number;
  /** Stream the board's log lines of this run while it runs. */
  follow?: boolean;
  signal?: AbortSignal;
  onUpdate?(run: RunView, previous: RunView | undefined): void;
  onLine?(line: LogLine): void;
}

/**
 * Waits for a run to end, reporting state and queue changes; with `follow`, streams the log of
 * the board the run landed on (only this run's lines). A poll that fails (scheduler restarting)
 * is retried; the run is the scheduler's to finish.
 */
export async function watchRun(client: HilClient, runId: string, opts: WatchOptions = {}): Promise<RunView> {
  const pollMs = opts.pollMs ?? 500;
  let previous: RunView | undefined;
  let following: string | undefined;
  const followAbort = new AbortController();
  const stopFollow = () => followAbort.abort();
  opts.signal?.addEventListener("abort", stopFollow, { once: true });
  const followers: Promise<unknown>[] = [];
  let pollFailures = 0;
  let firstSeen: { at: number; position: number } | undefined;
  try {
    for (;;) {
      if (opts.signal?.aborted) throw opts.signal.reason ?? new Error("aborted");
      let run: RunView;
      try {
        run = await client.getRun(runId);
        pollFailures = 0;
      } catch (err) {
        if (++pollFailures > 20) throw err;
        await sleep(pollMs * 2);
        continue;
      }
      const position = run.queue?.position;
      if (run.state === "queued" && position) {
        firstSeen ??= { at: Date.now(), position };
        if (run.queue && run.queue.etaMs === undefined) {
          const eta = estimateEta(firstSeen, position, Date.now());
          if (eta !== undefined) run.queue.etaMs = eta;
        }
      }
      if (!previous || changed(previous, run)) opts.onUpdate?.(run, previous);
      previous = run;
      const board = Object.values(run.boards)[0];
      if (opts.follow && opts.onLine && board && board !== following && (run.state === "leased" || run.state === "running")) {
        following = board;
        const onLine = opts.onLine;
        followers.push(
          client
            .followBoardLog(board, {
              follow: true,
              signal: followAbort.signal,
              onLine: (line) => {
                if (line.run === runId) onLine(line);
              },
            })
            .catch(() => undefined),
        );
      }
      if (isTerminal(run.state)) {
        // Give the live tail a moment to drain the last lines before closing it.
        if (followers.length > 0) await sleep(300);
        return run;
      }
      await sleep(pollMs);
    }
  } finally {
    followAbort.abort();
    opts.signal?.removeEventListener("abort", stopFollow);
    await Promise.allSettled(followers);
  }
}

/** The server gives no ETA: extrapolate from how fast this run has moved up the queue so far. */
export function estimateEta(first: { at: number; position: number }, position: number, now: number): number | undefined {
  const moved = first.position - position;
  const elapsed = now - first.at;
  if (moved <= 0 || elapsed <= 0) return undefined;
  return Math.round((position / moved) * elapsed);
}

function changed(a: RunView, b: RunView): boolean {
  return (
    a.state !== b.state ||
    a.attempts.length !== b.attempts.length ||
    a.queue?.position !== b.queue?.position ||
    a.queue?.waitingFor !== b.queue?.waitingFor ||
    a.waitingFor !== b.waitingFor
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
