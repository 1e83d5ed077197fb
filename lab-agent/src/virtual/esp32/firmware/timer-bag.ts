/** Every timer the firmware starts, so a reset (stop) can clear them all at once. */
export class TimerBag {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly cleanups = new Set<() => void>();

  after(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  every(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setInterval(() => {
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  /** Runs `fn` when the bag is cleared (a reset): closes what is not a timer, such as an HTTP request. */
  onClear(fn: () => void): () => void {
    if (this.stopped) {
      fn();
      return () => undefined;
    }
    this.cleanups.add(fn);
    return () => this.cleanups.delete(fn);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  get pending(): number {
    return this.timers.size;
  }

  clear(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const cleanups = [...this.cleanups];
    this.cleanups.clear();
    for (const fn of cleanups) fn();
  }
}
