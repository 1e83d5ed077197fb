/**
 * `npm run bench -- flash [--quick] [--sizes 1,4] [--bauds 115200,921600] [--boards 1,4]`
 *
 * Flashes incompressible images with Esp32FlashDriver (real esptool-js 0.7.0) over RFC 2217 to paced
 * virtual ESP32s running in a child `hil virtual esp32 --pace` process (so board CPU is not ours),
 * 1 board and N boards at once, and compares with the link limit measured in the same run:
 * bytes the host put on the wire during the write phase / (baud / 10).
 * Then flashes the same image again to time the skip path (MD5 compare, nothing written).
 * --quick leaves out 4 MiB at 115200 baud (about 6 minutes per run).
 *
 * Then, when Espressif's esptool is at HIL_ESPTOOL_DIR or ../shared/tools/esptool: `hil flash` (the whole
 * CLI process) against `esptool write-flash` on the same paced board, same image, same baud, in turns,
 * --rounds times (default 3): whole-process wall time and write-phase throughput against esptool's,
 * and against the link limit. --esptool-only runs just that part.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Esp32FlashDriver, Rfc2217Link, type SerialLink } from "@hil/lab-agent";
import { REPO_ROOT, spawnHil, type Spawned } from "@hil/test-kit";

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

const ESPTOOL_DIR = process.env["HIL_ESPTOOL_DIR"] ?? join(REPO_ROOT, "..", "shared", "tools", "esptool");

/** Runs a command; resolves with its wall time and output (rejects on a non-zero exit). */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ seconds: number; out: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("close", (code) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code === 0) resolve({ seconds, out });
      else reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${out}`));
    });
  });
}

/** `hil flash` against esptool on one paced board: whole-process wall and write-phase throughput. */
async function versusEsptool(url: string): Promise<void> {
  if (!existsSync(join(ESPTOOL_DIR, "esptool", "__init__.py"))) {
    console.log(`\nno esptool at ${ESPTOOL_DIR}: the esptool reference is left out (set HIL_ESPTOOL_DIR)`);
    return;
  }
  const rounds = listArg("rounds", [3])[0] ?? 3;
  const dir = await mkdtemp(join(tmpdir(), "hil-bench-flash-"));
  const hil = join(REPO_ROOT, "cli", "bin", "hil.js");
  const pyEnv = { ...process.env, PYTHONPATH: ESPTOOL_DIR, NO_COLOR: "1" };
  try {
    console.log(`\nhil flash vs esptool (${ESPTOOL_DIR}), same paced board, same image, ${rounds} rounds each, in turns; medians`);
    console.log("image    baud     hil wall s  esptool wall s  wall ratio  hil write KiB/s  esptool write KiB/s  write ratio  hil/link  esptool/link");
    for (const baud of bauds) {
      for (const mib of sizes) {
        if (quick && baud <= 115200 && mib >= 4) continue;
        const size = mib * 1024 * 1024;
        const hilWall: number[] = [];
        const espWall: number[] = [];
        const hilWrite: number[] = [];
        const espWrite: number[] = [];
        for (let r = 0; r < rounds; r++) {
          // a new image each round, so neither tool can skip it
          const file = join(dir, `image-${mib}-${baud}-${r}.bin`);
          await writeFile(file, randomBytes(size));
          const h = await timed(process.execPath, [hil, "flash", "--port", url, "--profile", "esp32-virtual", "--baud", String(baud), "--no-skip", `${file}@0x0`]);
          hilWall.push(h.seconds);
          const hw = /written and verified: \S+ @0x0 \(\d+ bytes, md5 [0-9a-f]+\) in ([\d.]+) s/.exec(h.out);
          hilWrite.push(size / 1024 / Number(hw?.[1] ?? NaN));
          await writeFile(file, randomBytes(size));
          const e = await timed("/usr/bin/python3", ["-m", "esptool", "--port", url, "--baud", String(baud), "write-flash", "0x0", file], pyEnv);
          espWall.push(e.seconds);
          // v5: "Wrote N bytes [(M compressed)] at 0x… in T seconds (K kbit/s)."; T has one decimal, K is N·8/T/1000
          const ew = /Wrote \d+ bytes(?: \(\d+ compressed\))? at 0x[0-9a-f]+ in [\d.]+ seconds \(([\d.]+) kbit\/s\)/.exec(e.out);
          espWrite.push((Number(ew?.[1] ?? NaN) * 1000) / 8 / 1024);
        }
        const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
        const link = baud / 10 / 1024;
        console.log(
          `${pad(`${mib} MiB`, 5)}  ${pad(baud, 7)}  ${pad(med(hilWall).toFixed(2), 10)}  ${pad(med(espWall).toFixed(2), 14)}  ${pad((med(hilWall) / med(espWall)).toFixed(3), 10)}  ${pad(med(hilWrite).toFixed(1), 15)}  ${pad(med(espWrite).toFixed(1), 19)}  ${pad((med(hilWrite) / med(espWrite)).toFixed(3), 11)}  ${pad((med(hilWrite) / link).toFixed(3), 8)}  ${pad((med(espWrite) / link).toFixed(3), 12)}`,
        );
      }
    }
    console.log("wall s: the whole process (start, connect, reset, stub, write, verify, reset); wall ratio = hil / esptool (goal ≤ 1.0)");
    console.log("write KiB/s: image bytes / the write phase each tool reports (hil: written and verified … in T s, which includes its MD5 check; esptool: its own Wrote … (K kbit/s) figure, measured before its MD5 check, so the ratio leans towards esptool)");
    console.log("…/link: write throughput / (baud/10), the payload the UART could carry uncompressed; both compress, random images do not");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const maxBoards = Math.max(...boardCounts);
  const boardsProc: Spawned = spawnHil(["virtual", "esp32", "--pace", "--count", String(maxBoards)]);
  try {
    await boardsProc.waitFor(new RegExp(`${maxBoards} virtual ESP32 board`), 60_000);
    const urls = [...boardsProc.output().matchAll(/rfc2217:\/\/127\.0\.0\.1:\d+/g)].map((x) => x[0]);
    if (process.argv.includes("--esptool-only")) return await versusEsptool(urls[0]!);
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
    await versusEsptool(urls[0]!);
  } finally {
    await boardsProc.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
