import { LinkClosedError } from "@hil/contracts";
import type { Disposable, ModemLines, SerialLink } from "../links/serial-link.js";

/**
 * A view of a SerialLink for a second reader (esptool-js during a flash). While that reader is
 * subscribed to data, `onBusy` runs (the console pauses: loader bytes are not console lines); when
 * its last subscription ends, `onIdle` runs — before the driver resets the board into its app, so
 * the first boot lines of the new firmware are not lost.
 *
 * Once the link ends with an error (board unplugged), this view refuses to reopen it: esptool-js
 * retries (e.g. its reconnect after a baud change) carry on in the background after a failed flash
 * and would otherwise reconnect to a board the run has already given up on.
 */
export class ConsoleYieldingLink implements SerialLink {
  private readers = 0;
  private severed: LinkClosedError | undefined;

  constructor(
    private readonly inner: SerialLink,
    private readonly hooks: { onBusy: () => void; onIdle: () => void },
  ) {
    inner.onClose((err) => {
      if (err) this.severed = err;
    });
  }

  get path(): string {
    return this.inner.path;
  }
  get isOpen(): boolean {
    return this.inner.isOpen;
  }
  get hasModemLines(): boolean {
    return this.inner.hasModemLines;
  }
  get baudRate(): number {
    return this.inner.baudRate;
  }
  open(): Promise<void> {
    if (this.severed) {
      return Promise.reject(new LinkClosedError(`${this.inner.path} went away (${this.severed.message}); open the board again for a new session`));
    }
    return this.inner.open();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  write(data: Uint8Array): Promise<void> {
    return this.inner.write(data);
  }
  setBaudRate(baud: number): Promise<void> {
    return this.inner.setBaudRate(baud);
  }
  setSignals(lines: ModemLines): Promise<boolean> {
    return this.inner.setSignals(lines);
  }
  purge(): Promise<void> {
    return this.inner.purge();
  }
  onClose(listener: (err?: LinkClosedError) => void): Disposable {
    return this.inner.onClose(listener);
  }

  onData(listener: (chunk: Uint8Array) => void): Disposable {
    const sub = this.inner.onData(listener);
    if (this.readers++ === 0) this.hooks.onBusy();
    let disposed = false;
    return {
      dispose: () => {
        if (disposed) return;
        disposed = true;
        sub.dispose();
        if (--this.readers === 0) this.hooks.onIdle();
      },
    };
  }
}
