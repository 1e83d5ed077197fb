/** Every timer the firmware starts, so a reset (stop) can clear them all at once. */
export class TimerBag {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

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
  }
}
