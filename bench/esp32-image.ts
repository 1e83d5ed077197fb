/**
 * What checking an app image costs: readEsp32Image (header, segments, XOR checksum, SHA-256,
 * app description) and buildEsp32Image on a 4 MiB image, against the floor measured in the same
 * run: one SHA-256 pass over the same bytes, which any validator of an appended hash must do.
 *
 *   node --conditions=source --import tsx bench/esp32-image.ts [--size-mib 4] [--rounds 5]
 */
import { createHash } from "node:crypto";
import { buildEsp32Image, readEsp32Image } from "@hil/lab-agent";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const size = arg("--size-mib", 4) * 1024 * 1024;
const rounds = arg("--rounds", 5);

function best(fn: () => void): number {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    fn();
    min = Math.min(min, performance.now() - t);
  }
  return min;
}

const image = buildEsp32Image({ appDesc: { projectName: "bench", version: "1.0.0" }, padTo: size });
const floor = best(() => createHash("sha256").update(image).digest());
const read = best(() => {
  if (!readEsp32Image(image).ok) throw new Error("bench image did not validate");
});
const build = best(() => buildEsp32Image({ appDesc: { projectName: "bench", version: "1.0.0" }, padTo: size }));

const mib = size / (1024 * 1024);
const row = (label: string, ms: number) => `${label.padEnd(34)} ${ms.toFixed(1).padStart(8)} ms  ${(mib / (ms / 1000)).toFixed(0).padStart(6)} MiB/s  ${(ms / floor).toFixed(2).padStart(6)}x sha256`;
process.stdout.write(`${mib} MiB image, best of ${rounds}\n`);
process.stdout.write(`${row("sha256 only (reference)", floor)}\n`);
process.stdout.write(`${row("readEsp32Image (full validation)", read)}\n`);
process.stdout.write(`${row("buildEsp32Image", build)}\n`);
