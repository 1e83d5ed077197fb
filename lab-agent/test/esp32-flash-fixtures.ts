import { createHash, randomBytes } from "node:crypto";
import type { Disposable, ModemLines, SerialDevice } from "../src/links/serial-link.js";

/** The esp32-virtual profile's facts, spelled out so these tests do not depend on YAML loading. */
export const VIRTUAL_PROFILE = {
  id: "esp32-virtual",
  chip: "esp32" as const,
  serial: { baud: 115200, flashBaud: 921600 },
  reset: { download: "D0|R1|W100|D1|R0|W50|D0", run: "D0|R1|W100|R0" },
  flash: { size: 4 * 1024 * 1024, bootloaderOffset: 0x1000, appOffset: 0x10000 },
};

/** Wraps a device and counts everything the host sent it: "the board was never touched" = all zero. */
export class CountingDevice implements SerialDevice {
  bytes = 0;
  signals = 0;
  constructor(private readonly inner: SerialDevice) {}
  receive(data: Uint8Array): void {
    this.bytes += data.length;
    this.inner.receive(data);
  }
  setSignals(lines: ModemLines): void {
    this.signals++;
    this.inner.setSignals(lines);
  }
  setBaudRate(baud: number): void {
    this.inner.setBaudRate(baud);
  }
  onTransmit(listener: (d: Uint8Array) => void): Disposable {
    return this.inner.onTransmit(listener);
  }
}

export function md5(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

export function random(size: number): Uint8Array {
  return new Uint8Array(randomBytes(size));
}

export function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}
