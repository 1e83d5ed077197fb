/**
 * `npm run bench -- flash [--quick] [--sizes 1,4] [--bauds 115200,921600] [--boards 1,4]`
 *
 * Flashes incompressible images with Esp32FlashDriver (real esptool-js 0.7.0) over RFC 2217 to paced
 * virtual ESP32s running in a child `hil virtual esp32 --pace` process (so board CPU is not ours),
 * 1 board and N boards at once, and compares with the link limit measured in the same run:
 * bytes the host put on the wire during the write phase / (baud / 10).
 * Then flashes the same image again to time the skip path (MD5 compare, nothing written).
 * --quick leaves out 4 MiB at 115200 baud (about 6 minutes per run).
 */
import { randomBytes } from "node:crypto";
import { Esp32FlashDriver, Rfc2217Link, type SerialLink } from "@hil/lab-agent";
import { spawnHil, type Spawned } from "@hil/scheduler/testing";

const PROFILE = {
  id: "esp32-virtual",
  chip: "esp32" as const,
  serial: { baud: 115200, flashBaud: 921600 },
  reset: { download: "D0|R1|W100|D1|R0|W50|D0", run: "D0|R1|W100|R0" },
  flash: { size: 4 * 1024 * 1024, bootloaderOffset: 0x1000, appOffset: 0x10000 },
};

function listArg(name: string, fallback: number[]): number[] {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  return (process.argv[i + 1] ?? "").split(",").map(Number).filter((n) => n > 0);
}

const quick = process.argv.includes("--quick");
const sizes = listArg("sizes", [1, 4]);
const bauds = listArg("bauds", [921600, 115200]);
const boardCounts = listArg("boards", [1, 4]);

interface BoardRun {
  totalSeconds: number;
  writeSeconds: number;
  wireBytes: number;
  skipSeconds: number;
}

/** Counts the bytes the host writes while `counting` is on. */
function countingLink(link: SerialLink): { link: SerialLink; meter: { counting: boolean; bytes: number } } {
  const meter = { counting: false, bytes: 0 };
  const write = link.write.bind(link);
  link.write = async (data: Uint8Array) => {
    if (meter.counting) meter.bytes += data.length;
    await write(data);
  };
  return { link, meter };
}

async function flashOne(url: string, size: number, baud: number): Promise<BoardRun> {
  const m = /:(\d+)$/.exec(url);
  const { link, meter } = countingLink(new Rfc2217Link({ host: "127.0.0.1", port: Number(m?.[1]), timeoutMs: 30_000 }));
  const image = new Uint8Array(randomBytes(size));
  const driver = new Esp32FlashDriver({ link, profile: PROFILE });
  let writeStart = 0;
  let writeEnd = 0;
  try {
    const t0 = performance.now();
    await driver.flash([{ data: image, offset: 0, kind: "raw" }], {
      baudRate: baud,
      onProgress: (p) => {
        if (p.written === 0 && writeStart === 0) {
          writeStart = performance.now();
          meter.counting = true;
        }
        if (p.written === p.total) {
          writeEnd = performance.now();
          meter.counting = false;
        }
      },
    });
    const totalSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const again = await driver.flash([{ data: image, offset: 0, kind: "raw" }], { baudRate: baud });
    const skipSeconds = (performance.now() - t1) / 1000;
    if (!again.alreadyFlashed) throw new Error("the second flash of the same image was not skipped");
    return { totalSeconds, writeSeconds: (writeEnd - writeStart) / 1000, wireBytes: meter.bytes, skipSeconds };
  } finally {
    await link.close();
  }
}

function pad(s: string | number, n: number): string {
  return String(s).padStart(n);
}

async function main(): Promise<void> {
  const maxBoards = Math.max(...boardCounts);
  const boardsProc: Spawned = spawnHil(["virtual", "esp32", "--pace", "--count", String(maxBoards)]);
  try {
    await boardsProc.waitFor(new RegExp(`${maxBoards} virtual ESP32 board`), 60_000);
    const urls = [...boardsProc.output().matchAll(/rfc2217:\/\/127\.0\.0\.1:\d+/g)].map((x) => x[0]);
    console.log("image    baud     boards  total s  write s  KiB/s/board  wire limit s  ratio(wire)  ratio(payload)  skip s");
    for (const baud of bauds) {
      for (const mib of sizes) {
        if (quick && baud <= 115200 && mib >= 4) continue;
        for (const n of boardCounts) {
          const size = mib * 1024 * 1024;
          const t0 = performance.now();
          const runs = await Promise.all(urls.slice(0, n).map((u) => flashOne(u, size, baud)));
          const wall = (performance.now() - t0) / 1000;
          const avg = (f: (r: BoardRun) => number) => runs.reduce((a, r) => a + f(r), 0) / runs.length;
          const write = avg((r) => r.writeSeconds);
          const limit = avg((r) => r.wireBytes) / (baud / 10);
          const kibs = size / 1024 / write;
          const payloadRatio = size / (baud / 10) / write;
          console.log(
            `${pad(`${mib} MiB`, 5)}  ${pad(baud, 7)}  ${pad(n, 6)}  ${pad(wall.toFixed(2), 7)}  ${pad(write.toFixed(2), 7)}  ${pad(kibs.toFixed(1), 11)}  ${pad(limit.toFixed(2), 12)}  ${pad((limit / write).toFixed(3), 11)}  ${pad(payloadRatio.toFixed(3), 14)}  ${pad(Math.max(...runs.map((r) => r.skipSeconds)).toFixed(2), 6)}`,
          );
        }
      }
    }
    console.log("total s: whole Esp32FlashDriver.flash() (reset, sync, stub upload at 115200, baud switch, write, MD5 verify, reset) — wall time for all boards");
    console.log("write s: first to last data block; wire limit s = host bytes on the wire in that phase / (baud/10); ratio(wire) = limit/write");
    console.log("ratio(payload) = image bytes / (baud/10) / write s; skip s: a second flash of the same image (MD5 via the ROM, nothing written)");
  } finally {
    await boardsProc.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
