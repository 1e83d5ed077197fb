import { LinkClosedError } from "@hil/contracts";
import type { Disposable } from "./serial-link.js";

/**
 * The listener bookkeeping every SerialLink needs: data fan-out, and a close that fires exactly once
 * (late subscribers to an already-closed link still hear about it, so nothing waits forever).
 */
export class LinkEmitter {
  private readonly dataListeners = new Set<(chunk: Uint8Array) => void>();
  private readonly closeListeners = new Set<(err?: LinkClosedError) => void>();
  private closed: { err?: LinkClosedError } | undefined;

  onData(listener: (chunk: Uint8Array) => void): Disposable {
    this.dataListeners.add(listener);
    return { dispose: () => void this.dataListeners.delete(listener) };
  }

  onClose(listener: (err?: LinkClosedError) => void): Disposable {
    if (this.closed) {
      const { err } = this.closed;
      queueMicrotask(() => listener(err));
      return { dispose: () => undefined };
    }
    this.closeListeners.add(listener);
    return { dispose: () => void this.closeListeners.delete(listener) };
  }

  emitData(chunk: Uint8Array): void {
    for (const l of [...this.dataListeners]) l(chunk);
  }

  /** Marks the link open again (after a reopen) so a later close is reported once more. */
  reset(): void {
    this.closed = undefined;
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  emitClose(err?: LinkClosedError): void {
    if (this.closed) return;
    this.closed = err === undefined ? {} : { err };
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const l of listeners) l(err);
  }
}
