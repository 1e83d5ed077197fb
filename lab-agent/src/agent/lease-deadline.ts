/**
 * Stop this long before the lease's expiry as the agent reckons it: a quarter of the TTL, less when renewals are
 * so far apart that two of them would not fit before (a long heartbeat with a short TTL).
 */
export function leaseMarginMs(ttlMs: number, renewEveryMs = 0): number {
  return Math.round(Math.max(0, Math.min(ttlMs / 4, ttlMs - 2 * renewEveryMs)));
}

/**
 * When a job's lease runs out, as far as the agent can tell without hearing from Redis: the time it *sent* the
 * last renewal Redis confirmed, plus the TTL (Redis applied it later, so the lease lasts at least that long). If no
 * renewal is confirmed by `margin` before then, `onExpiring` fires once: the agent must stop using the boards, since
 * the scheduler may hand them, and the run, to someone else the moment the lease expires.
 */
export class LeaseDeadline {
  private expiresAt: number;
  private timer: NodeJS.Timeout | undefined;
  private fired = false;

  constructor(
    sentAt: number,
    private readonly ttlMs: number,
    private readonly marginMs: number,
    private readonly onExpiring: (lastConfirmedAt: number) => void,
  ) {
    this.expiresAt = sentAt + ttlMs;
    this.arm();
  }

  /** A renewal sent at `sentAt` was confirmed. */
  renewed(sentAt: number): void {
    if (this.fired || sentAt + this.ttlMs <= this.expiresAt) return;
    this.expiresAt = sentAt + this.ttlMs;
    this.arm();
  }

  /** The agent can no longer count on holding the lease. */
  get passed(): boolean {
    return this.fired || Date.now() >= this.expiresAt - this.marginMs;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.dispose();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fired = true;
      this.onExpiring(this.expiresAt - this.ttlMs);
    }, Math.max(0, this.expiresAt - this.marginMs - Date.now()));
  }
}
