/**
 * Remembers when this scheduler last found Redis unresponsive (frozen, restarting, unreachable), as seen
 * from the reaper's sweeps: a sweep whose Redis reads took longer than `thresholdMs` (a sweep is in flight
 * at every tick, so an outage longer than that is always seen). Leases that expire in such a window expired because
 * nobody could renew them, not because a board or its agent failed: infrastructure failures recorded
 * shortly after are not charged to the boards' health.
 */
export class RedisOutageWatch {
  private lastEnd?: number;

  constructor(
    private readonly thresholdMs: number,
    /** How long after an outage a failure is still put down to it (leases expire up to one TTL later). */
    private readonly afterMs: number,
  ) {}

  /** A stretch of time in which this process was waiting on Redis (`from` = when it asked, `to` = when it heard). */
  waited(from: number, to: number): void {
    if (to - from >= this.thresholdMs) this.lastEnd = Math.max(this.lastEnd ?? 0, to);
  }

  /** True when Redis was unresponsive recently enough to explain a lost lease. */
  recent(now = Date.now()): boolean {
    return this.lastEnd !== undefined && now - this.lastEnd < this.afterMs;
  }
}
