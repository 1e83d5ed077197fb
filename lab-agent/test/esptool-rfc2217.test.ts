// Espressif's own esptool (v5.3.1, Python, run as is) against a virtual ESP32 behind the lab's RFC 2217
// server: every command a user runs, both loaders, two baud rates and the three --after modes, with
// the board paced like a real UART. Finds esptool in HIL_ESPTOOL_DIR or ../shared/tools/esptool (it is
// GPL software kept outside the project) and Debian's Python (npm test installs its packages).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { REPO_ROOT, makeTempDir } from "@hil/test-kit";
import { Rfc2217Server } from "../src/links/rfc2217/rfc2217-server.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { randomImage, sameBytes } from "./virtual-esp32-esptool.js";

const ESPTOOL_DIR = process.env["HIL_ESPTOOL_DIR"] ?? join(REPO_ROOT, "..", "shared", "tools", "esptool");
const PYTHON = "/usr/bin/python3";

function missing(): string | undefined {
  if (!existsSync(join(ESPTOOL_DIR, "esptool", "__init__.py"))) return `no esptool at ${ESPTOOL_DIR} (set HIL_ESPTOOL_DIR)`;
  if (!existsSync(PYTHON)) return `no ${PYTHON}`;
  return undefined;
}

interface Ran {
  code: number;
  out: string;
}

function esptool(port: number, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, ["-m", "esptool", "--port", `rfc2217://127.0.0.1:${port}`, ...args], {
      env: { ...process.env, PYTHONPATH: ESPTOOL_DIR, NO_COLOR: "1", TERM: "dumb" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out });
    });
  });
}

const skip = missing();
if (skip) {
  console.log(`[skip] esptool tests not run: ${skip}`);
} else {
  const tmp = await makeTempDir("hil-esptool-");
  const board = new VirtualEsp32({ id: "esptool-0", mac: "24:0a:c4:12:34:56", pace: true });
  const server = new Rfc2217Server(board, { port: 0 });
  const { port } = await server.listen();
  const run = async (...args: string[]) => {
    const r = await esptool(port, args);
    assert.is(r.code, 0, `esptool ${args.join(" ")}:\n${r.out}`);
    return r.out;
  };
  const image = randomImage(48 * 1024);
  const imageFile = join(tmp.dir, "image.bin");
  await writeFile(imageFile, image);

  test.after(async () => {
    await server.close();
    board.dispose();
    await tmp.remove();
  });

  test("chip-id, read-mac and flash-id: the classic reset over RFC 2217 reaches download mode", async () => {
    assert.match(await run("chip-id"), /MAC: +24:0a:c4:12:34:56/);
    assert.match(await run("read-mac"), /MAC: +24:0a:c4:12:34:56/);
    assert.match(await run("flash-id"), /Detected flash size: 4MB/);
    assert.is(board.mode, "app", "--after hard-reset (the default) boots the app");
  });

  for (const baud of ["115200", "921600"]) {
    test(`stub at ${baud}: write-flash -z and plain, verify-flash, read-flash byte-equal, erase-region`, async () => {
      await run("--baud", baud, "write-flash", "-z", "0x10000", imageFile);
      assert.ok(sameBytes(board.flash.subarray(0x10000, 0x10000 + image.length), image), "compressed write");
      await run("--baud", baud, "write-flash", "0x40000", imageFile);
      assert.ok(sameBytes(board.flash.subarray(0x40000, 0x40000 + image.length), image), "plain write");
      assert.match(await run("--baud", baud, "verify-flash", "0x40000", imageFile), /Verification successful/);
      const back = join(tmp.dir, `back-${baud}.bin`);
      await run("--baud", baud, "read-flash", "0x10000", String(image.length), back);
      assert.ok(sameBytes(new Uint8Array(await readFile(back)), image), "read back");
      await run("--baud", baud, "erase-region", "0x40000", "0x1000");
      assert.ok(board.flash.subarray(0x40000, 0x41000).every((b) => b === 0xff), "erased");
      assert.ok(sameBytes(board.flash.subarray(0x41000, 0x40000 + image.length), image.subarray(0x1000)), "only that region");
    });
  }

  test("ROM loader (--no-stub): write-flash and verify-flash", async () => {
    await run("--no-stub", "write-flash", "0x80000", imageFile);
    assert.ok(sameBytes(board.flash.subarray(0x80000, 0x80000 + image.length), image));
    assert.match(await run("--no-stub", "verify-flash", "0x80000", imageFile), /Verification successful/);
  });

  test("--after no-reset leaves the ROM loader answering a new session; no-reset-stub leaves the stub; hard-reset boots the app", async () => {
    assert.match(await run("--after", "no-reset", "chip-id"), /Staying in bootloader/);
    assert.is(board.mode, "download", "back in the ROM loader after the stub's soft reset");
    const starts = board.stubStarts;
    assert.match(await run("--before", "no-reset", "--after", "no-reset-stub", "chip-id"), /Staying in flasher stub/);
    assert.is(board.mode, "stub");
    assert.is(board.stubStarts, starts + 1, "that session uploaded the stub to the ROM it found");
    assert.match(await run("--before", "no-reset", "--after", "no-reset-stub", "read-mac"), /MAC: +24:0a:c4:12:34:56/);
    assert.is(board.stubStarts, starts + 1, "the stub left running answered the next session itself");
    // a session that starts with the classic reset leaves DTR off, so its closing RTS pulse resets the chip
    // (a --before no-reset session keeps pyserial's DTR-on from opening the port: on the auto-reset
    // circuit, as on a real board, its RTS pulse then cannot pull EN low)
    await run("--after", "hard-reset", "read-mac");
    assert.is(board.mode, "app");
  });

  test("erase-flash", async () => {
    await run("erase-flash");
    assert.ok(board.flash.every((b) => b === 0xff));
  });

  test.run();
}
