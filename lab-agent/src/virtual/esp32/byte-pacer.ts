/**
 * Delivers bytes in order, optionally no faster than a UART would: 10 bits per byte (start, 8 data,
 * stop) at the current baud. The baud in force when bytes are queued is the one they travel at, so a
 * reply announcing a baud change still goes out at the old speed.
 */
export class BytePacer {
  private queue: { bytes: Uint8Array; baud: number }[] = [];
  /** When the simulated wire is next idle (performance.now() milliseconds). */
  private wireFreeAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private disposed = false;
  private idleWaiters: (() => void)[] = [];

  /** Slices keep a long frame from arriving as one lump long after its first byte was "sent". */
  private static readonly SLICE = 256;

  constructor(
    private readonly deliver: (bytes: Uint8Array) => void,
    public paced: boolean,
    public baud: number,
  ) {}

  push(bytes: Uint8Array): void {
    if (this.disposed || bytes.length === 0) return;
    if (!this.paced && this.queue.length === 0) {
      this.deliver(bytes);
      return;
    }
    if (this.queue.length === 0) {
      // An idle line starts sending now; a busy one continues where the queued bytes end.
      const now = performance.now();
      if (this.wireFreeAt < now) this.wireFreeAt = now;
    }
    for (let i = 0; i < bytes.length; i += BytePacer.SLICE) {
      this.queue.push({ bytes: bytes.subarray(i, i + BytePacer.SLICE), baud: this.baud });
    }
    this.pump();
  }

  /** Calls `fn` once every byte queued so far has been delivered (at once when none is queued). */
  whenIdle(fn: () => void): void {
    if (this.queue.length === 0) fn();
    else this.idleWaiters.push(fn);
  }

  /** Drops everything not yet delivered (purge, reset). */
  clear(): void {
    this.queue = [];
    this.idleWaiters = [];
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  dispose(): void {
    this.disposed = true;
    this.clear();
  }

  private pump(): void {
    if (this.timer !== undefined) return;
    const now = performance.now();
    while (this.queue.length > 0) {
      const head = this.queue[0];
      if (head === undefined) break;
      if (!this.paced) {
        this.queue.shift();
        this.deliver(head.bytes);
        continue;
      }
      const duration = (head.bytes.length * 10 * 1000) / head.baud;
      const due = this.wireFreeAt + duration;
      if (due > now) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, Math.max(1, Math.ceil(due - now)));
        return;
      }
      this.queue.shift();
      this.wireFreeAt = due;
      this.deliver(head.bytes);
    }
    if (this.queue.length === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const fn of waiters) fn();
    }
  }
}
