export interface PendingEntry {
  id: string;
  submitter: string;
  priority: number;
  /** When it (re)entered the queue. */
  queuedAt: number;
}

/**
 * Dispatch order: priority (higher first), then fair share, then age. At equal priority a run's
 * share key is `running(submitter) + k`, k being its index among that submitter's pending runs, so
 * submitters take turns (round robin) and one that already holds many boards waits behind one that holds none.
 * At an equal share key the submitter served least recently (`lastServed`, higher = later; absent = never)
 * goes first: when boards free up one at a time every share key is 0, and age alone would hand each
 * board to the submitter with the oldest backlog until it drained.
 */
export function fairOrder(
  entries: readonly PendingEntry[],
  running: ReadonlyMap<string, number>,
  lastServed: ReadonlyMap<string, number> = new Map(),
): PendingEntry[] {
  const byAge = [...entries].sort((a, b) => a.queuedAt - b.queuedAt || (a.id < b.id ? -1 : 1));
  const seen = new Map<string, number>();
  const keyed = byAge.map((e) => {
    const slot = `${e.priority}\u0000${e.submitter}`;
    const k = seen.get(slot) ?? 0;
    seen.set(slot, k + 1);
    return { e, share: (running.get(e.submitter) ?? 0) + k };
  });
  const served = (e: PendingEntry) => lastServed.get(e.submitter) ?? -1;
  keyed.sort((a, b) => b.e.priority - a.e.priority || a.share - b.share || served(a.e) - served(b.e) || a.e.queuedAt - b.e.queuedAt);
  return keyed.map((k) => k.e);
}
