/**
 * How long the real esptool-js 0.7.0 takes to write 4 MiB of incompressible data (compressed
 * mode, MD5-verified) to a virtual ESP32 at 921600 baud over RFC 2217, paced and unpaced, against
 * the UART's own limit measured in the same run: bytes that crossed the wire / (baud / 10).
 *
 *   node --conditions=source --import tsx bench/virtual-esp32.ts [--size-mib 4] [--skip-paced]
 */
import { Rfc2217Link, Rfc2217Server, VirtualEsp32 } from "@hil/lab-agent";
import { connectEsptool, flashImage, randomImage, sameBytes } from "../lab-agent/test/virtual-esp32-esptool.js";

const BAUD = 921600;

interface Result {
  label: string;
  seconds: number;
  wireBytes: number;
  limitSeconds: number;
}

async function measure(label: string, pace: boolean, image: Uint8Array): Promise<Result> {
  const board = new VirtualEsp32({ id: `bench-${label}`, pace });
  const server = new Rfc2217Server(board, { port: 0 });
  const { port } = await server.listen();
  const link = new Rfc2217Link({ host: "127.0.0.1", port, timeoutMs: 30_000 });
  let hostToDevice = 0;
  let deviceToHost = 0;
  let counting = false;
  const realReceive = board.receive.bind(board);
  board.receive = (data: Uint8Array) => {
    if (counting) hostToDevice += data.length;
    realReceive(data);
  };
  board.onTransmit((d) => {
    if (counting) deviceToHost += d.length;
  });
  try {
    await link.open();
    const session = await connectEsptool(link, { mode: "default_reset", baudrate: BAUD });
    try {
      counting = true;
      const t0 = performance.now();
      await flashImage(session, 0, image);
      const seconds = (performance.now() - t0) / 1000;
      counting = false;
      await session.loader.after("no_reset_stub");
      if (!sameBytes(board.flash.subarray(0, image.length), image)) throw new Error(`${label}: flash content differs from the image`);
      // The UART is full duplex, so the busier direction bounds the transfer.
      const wireBytes = Math.max(hostToDevice, deviceToHost);
      return { label, seconds, wireBytes, limitSeconds: wireBytes / (BAUD / 10) };
    } finally {
      await session.close();
    }
  } finally {
    await link.close().catch(() => undefined);
    await server.close();
    board.dispose();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const sizeArg = args.indexOf("--size-mib");
  const sizeMib = sizeArg >= 0 ? Number(args[sizeArg + 1]) : 4;
  const image = randomImage(sizeMib * 1024 * 1024);
  const results: Result[] = [await measure("unpaced", false, image)];
  if (!args.includes("--skip-paced")) results.push(await measure("paced", true, image));
  process.stdout.write(`esptool-js 0.7.0 writeFlash of ${sizeMib} MiB random data, compress + MD5, RFC 2217, ${BAUD} baud\n`);
  for (const r of results) {
    process.stdout.write(
      `${r.label.padEnd(8)} ${r.seconds.toFixed(2).padStart(7)} s   wire ${r.wireBytes} B   link limit ${r.limitSeconds.toFixed(2)} s   ratio ${(r.seconds / r.limitSeconds).toFixed(2)}x\n`,
    );
  }
}

await main();
