import type { LinkClosedError } from "@hil/contracts";

/** DTR/RTS as the host sets them; true = asserted (drives the pin low on a board). */
export interface ModemLines {
  dtr?: boolean;
  rts?: boolean;
}

export interface Disposable {
  dispose(): void;
}

/**
 * The host side of a serial connection: bytes only. Implementations: node `serialport` (real
 * boards, PTYs), RFC 2217 over TCP, and an in-memory link wired to a SerialDevice.
 */
export interface SerialLink {
  /** "/dev/ttyUSB0", "rfc2217://127.0.0.1:4000", "memory:esp32-0" */
  readonly path: string;
  readonly isOpen: boolean;
  /** False on a PTY: setSignals then resolves false instead of failing. */
  readonly hasModemLines: boolean;
  readonly baudRate: number;
  open(): Promise<void>;
  close(): Promise<void>;
  write(data: Uint8Array): Promise<void>;
  setBaudRate(baud: number): Promise<void>;
  /** Resolves true when the lines were set, false when the link has no modem lines. */
  setSignals(lines: ModemLines): Promise<boolean>;
  /** Drops bytes received but not yet delivered. */
  purge(): Promise<void>;
  onData(listener: (chunk: Uint8Array) => void): Disposable;
  /** Fires once when the link ends; with an error when it ended without close() (unplugged). */
  onClose(listener: (err?: LinkClosedError) => void): Disposable;
}

/**
 * The device side of a serial connection: what a virtual board implements, and what exposures
 * (PTY, RFC 2217 server, in-memory link) connect a host to.
 */
export interface SerialDevice {
  /** Host → device bytes. */
  receive(data: Uint8Array): void;
  /** Host changed DTR/RTS. */
  setSignals(lines: ModemLines): void;
  /** Host changed the baud rate (used for pacing). */
  setBaudRate(baud: number): void;
  /** Device → host bytes. */
  onTransmit(listener: (data: Uint8Array) => void): Disposable;
}
