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

/**
 * The "done" sequence on one connection: detect, MAC, stub, 921600, then a 1 MiB and a
 * 4 MiB random image (compressed, MD5-verified), each read back through esptool-js and compared
 * with the board's flash array. Returns esptool-js's log.
 */
export async function flashAndVerifyBothSizes(
  link: SerialLink,
  board: { mac: string; mode: string; stubStarts: number; flash: Uint8Array; baudRate: number },
  mode: "default_reset" | "no_reset",
): Promise<string[]> {
  const session = await connectEsptool(link, { mode });
  try {
    if (!/^ESP32/.test(session.chip)) throw new Error(`esptool-js detected "${session.chip}", not an ESP32`);
    if (!session.log.some((l) => l.includes(`MAC: ${board.mac}`))) throw new Error(`esptool-js did not print the board's MAC ${board.mac}:\n${session.log.join("\n")}`);
    if (board.mode !== "stub" || board.stubStarts < 1) throw new Error(`board is in ${board.mode} mode after connect; the stub was not started`);
    if (board.baudRate !== 921600) throw new Error(`board runs at ${board.baudRate} baud, expected 921600 after CHANGE_BAUDRATE`);
    const cases: [number, Uint8Array][] = [
      [0x10000, randomImage(1024 * 1024)],
      [0x0, randomImage(4 * 1024 * 1024)],
    ];
    for (const [address, image] of cases) {
      const verified = session.log.filter((l) => l.includes("Hash of data verified")).length;
      await flashImage(session, address, image);
      if (session.log.filter((l) => l.includes("Hash of data verified")).length !== verified + 1) throw new Error("esptool-js did not verify the MD5");
      await session.loader.after("no_reset_stub");
      if (!sameBytes(board.flash.subarray(address, address + image.length), image)) throw new Error(`flash array differs from the ${image.length}-byte image`);
      const back = await session.loader.readFlash(address, image.length);
      if (!sameBytes(back, image)) throw new Error(`esptool-js read back different bytes for the ${image.length}-byte image`);
    }
    return session.log;
  } finally {
    await session.close();
  }
}
