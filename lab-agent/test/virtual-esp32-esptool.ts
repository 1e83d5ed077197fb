/**
 * Drives the real esptool-js 0.7.0 against a link, the way a user's flashing script would. Shared by
 * the virtual-esp32-* integration tests and bench/virtual-esp32.ts.
 */
import { createHash, randomBytes } from "node:crypto";
import { ESPLoader, Transport, type IEspLoaderTerminal } from "esptool-js";
import { WebSerialPortAdapter } from "../src/drivers/esp32/web-serial-port-adapter.js";
import type { SerialLink } from "../src/links/serial-link.js";

export interface EsptoolSession {
  loader: ESPLoader;
  transport: Transport;
  /** Everything esptool-js printed (its terminal). */
  log: string[];
  chip: string;
  close(): Promise<void>;
}

export async function connectEsptool(
  link: SerialLink,
  opts: { mode: "default_reset" | "no_reset"; baudrate?: number },
): Promise<EsptoolSession> {
  const adapter = new WebSerialPortAdapter(link);
  const transport = new Transport(adapter as unknown as SerialPort, false);
  const log: string[] = [];
  const terminal: IEspLoaderTerminal = {
    clean: () => undefined,
    writeLine: (data: string) => void log.push(data),
    write: (data: string) => void log.push(data),
  };
  const loader = new ESPLoader({ transport, baudrate: opts.baudrate ?? 921600, romBaudrate: 115200, terminal, debugLogging: false });
  const chip = await loader.main(opts.mode);
  return {
    loader,
    transport,
    log,
    chip,
    close: async () => {
      await transport.disconnect().catch(() => undefined);
    },
  };
}

export function md5Hex(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

export function randomImage(size: number): Uint8Array {
  return new Uint8Array(randomBytes(size));
}

/** writeFlash with compression and MD5 verification, as the issue asks. */
export async function flashImage(session: EsptoolSession, address: number, data: Uint8Array): Promise<void> {
  await session.loader.writeFlash({
    fileArray: [{ data, address }],
    flashMode: "keep",
    flashFreq: "keep",
    flashSize: "keep",
    eraseAll: false,
    compress: true,
    calculateMD5Hash: (image: Uint8Array) => md5Hex(image),
  });
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
