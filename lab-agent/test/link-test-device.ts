import type { Disposable, ModemLines, SerialDevice } from "../src/links/serial-link.js";

/** A SerialDevice for link tests: records what the host did, echoes when asked to. */
export class RecordingDevice implements SerialDevice {
  received: number[] = [];
  signals: ModemLines[] = [];
  bauds: number[] = [];
  echo = true;
  private listeners = new Set<(d: Uint8Array) => void>();

  receive(data: Uint8Array): void {
    this.received.push(...data);
    if (this.echo) this.transmit(data);
  }
  setSignals(lines: ModemLines): void {
    this.signals.push({ ...lines });
  }
  setBaudRate(baud: number): void {
    this.bauds.push(baud);
  }
  onTransmit(listener: (d: Uint8Array) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }
  transmit(data: Uint8Array): void {
    for (const l of this.listeners) l(data);
  }
}

