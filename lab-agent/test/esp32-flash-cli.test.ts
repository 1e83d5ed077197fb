import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir, spawnHil, type Spawned } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildEsp32Image } from "../src/esp32-image/image-writer.js";

async function startVirtualBoard(): Promise<{ proc: Spawned; url: string }> {
  const proc = spawnHil(["virtual", "esp32", "--pace"]);
  const m = await proc.waitFor(/(rfc2217:\/\/127\.0\.0\.1:\d+)/, 60_000);
  return { proc, url: m[1]! };
}

test("hil flash over rfc2217:// to a `hil virtual esp32` board: exit 0, then 'already flashed', a refused image exits 64, and killing the board mid-flash exits 2", async () => {
  const tmp = await makeTempDir();
  const { proc: board, url } = await startVirtualBoard();
  const procs: Spawned[] = [board];
  try {
    const small = join(tmp.dir, "small.bin");
    const big = join(tmp.dir, "big.bin");
    const s3 = join(tmp.dir, "s3.bin");
    await writeFile(small, buildEsp32Image({ padTo: 64 * 1024, padSeed: 1 }));
    await writeFile(big, buildEsp32Image({ padTo: 512 * 1024, padSeed: 2 }));
    await writeFile(s3, buildEsp32Image({ chip: "esp32s3" }));
    const base = ["flash", "--port", url, "--profile", "esp32-virtual"];

    const first = spawnHil([...base, small]);
    procs.push(first);
    assert.is(await first.exited, 0, first.output());
    assert.match(first.output(), /flashed ESP32 [0-9a-f:]{17}: 65536 bytes/);
    assert.match(first.output(), /written and verified: small\.bin @0x10000/);

    const second = spawnHil([...base, small]);
    procs.push(second);
    assert.is(await second.exited, 0, second.output());
    assert.match(second.output(), /already flashed/);

    const refused = spawnHil([...base, s3]);
    procs.push(refused);
    assert.is(await refused.exited, 64, refused.output());
    assert.match(refused.output(), /ESP32-S3/);
    assert.match(refused.output(), /nothing was written/);

    const doomed = spawnHil([...base, big]);
    procs.push(doomed);
    await doomed.waitFor(/writing big\.bin: [1-9]0%/, 60_000);
    await board.stop("SIGKILL");
    const code = await doomed.exited;
    assert.is(code, 2, doomed.output());
    assert.match(doomed.output(), /link closed during flash/);
  } finally {
    for (const p of procs) await p.stop();
    await tmp.remove();
  }
});

test("hil flash to a virtual board's PTY (no DTR/RTS) resets it through the control socket beside the PTY", async () => {
  const tmp = await makeTempDir();
  const board = spawnHil(["virtual", "esp32", "--pty", tmp.dir]);
  const procs: Spawned[] = [board];
  try {
    const m = await board.waitFor(/pty (\S+)/, 60_000);
    const ptyPath = m[1]!;
    const app = join(tmp.dir, "app.bin");
    await writeFile(app, buildEsp32Image({ padTo: 64 * 1024, padSeed: 4 }));
    const flash = spawnHil(["flash", "--port", ptyPath, "--profile", "esp32-virtual", app]);
    procs.push(flash);
    assert.is(await flash.exited, 0, flash.output());
    assert.match(flash.output(), /flashed ESP32 [0-9a-f:]{17}: 65536 bytes/);
  } finally {
    for (const p of procs) await p.stop();
    await tmp.remove();
  }
});

test("hil flash usage errors exit 64: missing offset for a non-app image, bad offset", async () => {
  const tmp = await makeTempDir();
  try {
    const raw = join(tmp.dir, "table.bin");
    await writeFile(raw, new Uint8Array(3072).fill(0xaa));
    const noOffset = spawnHil(["flash", "--port", "rfc2217://127.0.0.1:9", raw]);
    assert.is(await noOffset.exited, 64, noOffset.output());
    assert.match(noOffset.output(), /no default offset/);
    const badOffset = spawnHil(["flash", "--port", "rfc2217://127.0.0.1:9", `${raw}@0xZZ`]);
    assert.is(await badOffset.exited, 64, badOffset.output());
    assert.match(badOffset.output(), /not a flash offset/);
  } finally {
    await tmp.remove();
  }
});

test.run();
