// `hil flash build/`: an ESP-IDF build directory as idf.py leaves it (flasher_args.json naming the
// bootloader, partition table and app with their offsets, flash settings and chip) written to a virtual
// board over RFC 2217, which then boots the app from where the build's partition table puts it.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir, spawnHil } from "@hil/lab-protocol/testing";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildEsp32Image, buildPartitionTable, readEsp32Image, readIdfBuild, withFlashSettings } from "../src/index.js";
import { Rfc2217Server } from "../src/links/rfc2217/rfc2217-server.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { sameBytes } from "./virtual-esp32-esptool.js";

const APP = "idf_build_app";

async function writeBuild(dir: string, chip = "esp32"): Promise<{ bootloader: Uint8Array; table: Uint8Array; app: Uint8Array }> {
  await mkdir(join(dir, "bootloader"), { recursive: true });
  await mkdir(join(dir, "partition_table"), { recursive: true });
  // the header says qio/2MB/80m; the project (flasher_args.json) says dio/4MB/40m, which is what must land
  const bootloader = buildEsp32Image({ appDesc: null, flashMode: "qio", flashSize: "2MB", flashFreq: "80m" });
  const table = buildPartitionTable([
    { label: "nvs", type: "data", subtype: "nvs", offset: 0x9000, size: 0x6000 },
    { label: "factory", type: "app", subtype: "factory", offset: 0x20000, size: 0x100000 },
  ]);
  const app = buildEsp32Image({ appDesc: { projectName: APP, version: "0.3.0" }, scenario: { kind: "idle" } });
  await writeFile(join(dir, "bootloader", "bootloader.bin"), bootloader);
  await writeFile(join(dir, "partition_table", "partition-table.bin"), table);
  await writeFile(join(dir, `${APP}.bin`), app);
  const args = {
    write_flash_args: ["--flash_mode", "dio", "--flash_size", "4MB", "--flash_freq", "40m"],
    flash_settings: { flash_mode: "dio", flash_size: "4MB", flash_freq: "40m" },
    flash_files: { "0x1000": "bootloader/bootloader.bin", "0x20000": `${APP}.bin`, "0x8000": "partition_table/partition-table.bin" },
    bootloader: { offset: "0x1000", file: "bootloader/bootloader.bin", encrypted: "false" },
    app: { offset: "0x20000", file: `${APP}.bin`, encrypted: "false" },
    "partition-table": { offset: "0x8000", file: "partition_table/partition-table.bin", encrypted: "false" },
    extra_esptool_args: { after: "hard_reset", before: "default_reset", stub: true, chip },
  };
  await writeFile(join(dir, "flasher_args.json"), JSON.stringify(args, null, 4));
  return { bootloader, table, app };
}

test("readIdfBuild: the parts with their roles and offsets; the bootloader gets the build's flash settings with its hash redone", async () => {
  const tmp = await makeTempDir("hil-idf-");
  try {
    const parts = await writeBuild(tmp.dir);
    const build = await readIdfBuild(tmp.dir);
    assert.equal(build.files.map((f) => [f.offset, f.role]), [[0x1000, "bootloader"], [0x8000, "partition-table"], [0x20000, "app"]]);
    assert.equal(build.settings, { mode: "dio", size: "4MB", freq: "40m" });
    const patched = withFlashSettings(parts.bootloader, build.settings);
    const info = readEsp32Image(patched);
    assert.equal([info.flashMode, info.flashSize, info.flashFreq], ["dio", "4MB", "40m"]);
    assert.ok(info.hash?.valid, "the appended SHA-256 matches the new header");
    assert.equal(info.failures, []);
    assert.is(withFlashSettings(patched, build.settings), patched, "nothing to change: the same bytes");
    await writeFile(join(tmp.dir, "flasher_args.json"), JSON.stringify({ flash_files: { "0x1000": "../outside.bin" } }));
    assert.match(await readIdfBuild(tmp.dir).then(() => "", (e: Error) => e.message), /outside the build directory/);
    await writeFile(join(tmp.dir, "flasher_args.json"), JSON.stringify({ flash_files: { "0x1000": "missing.bin" } }));
    assert.match(await readIdfBuild(tmp.dir).then(() => "", (e: Error) => e.message), /flash_files\.0x1000: cannot read missing\.bin/);
  } finally {
    await tmp.remove();
  }
});

test("hil flash build/ writes all three parts and the board boots the app from the build's partition table; a build for another chip is refused with nothing written", async () => {
  const tmp = await makeTempDir("hil-idf-");
  const board = new VirtualEsp32({ id: "idf-0", mac: "24:0a:c4:00:11:22" });
  const server = new Rfc2217Server(board, { port: 0 });
  const { url } = await server.listen();
  let out = "";
  board.onTransmit((d) => {
    if (board.mode === "app") out += Buffer.from(d).toString("latin1");
  });
  try {
    const build = join(tmp.dir, "build");
    const parts = await writeBuild(build);
    const r = spawnHil(["flash", "--port", url, "--profile", "esp32-virtual", build]);
    assert.is(await r.exited, 0, r.output());
    assert.match(r.output(), /ESP-IDF build for esp32: bootloader\/bootloader\.bin @0x1000, partition_table\/partition-table\.bin @0x8000, idf_build_app\.bin @0x20000 \(flash dio 4MB 40m\)/);
    const written = readEsp32Image(board.flash.subarray(0x1000, 0x1000 + parts.bootloader.length));
    assert.equal([written.flashMode, written.flashSize, written.flashFreq, written.hash?.valid], ["dio", "4MB", "40m", true]);
    assert.ok(sameBytes(board.flash.subarray(0x8000, 0x8000 + parts.table.length), parts.table));
    assert.ok(sameBytes(board.flash.subarray(0x20000, 0x20000 + parts.app.length), parts.app));
    const deadline = Date.now() + 30_000;
    while (!/main_task: Calling app_main\(\)/.test(out) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
    assert.match(out, /boot: Loaded app from partition at offset 0x20000/);
    assert.match(out, new RegExp(`Project name: +${APP}`));

    const other = join(tmp.dir, "s3-build");
    await writeBuild(other, "esp32s3");
    const before = new Uint8Array(board.flash);
    const refused = spawnHil(["flash", "--port", url, "--profile", "esp32-virtual", "--flasher-args", join(other, "flasher_args.json")]);
    assert.is(await refused.exited, 64, refused.output());
    assert.match(refused.output(), /the build is for ESP32-S3 .*the board is ESP32.*nothing was written|nothing was written[\s\S]*ESP32-S3/);
    assert.ok(sameBytes(board.flash, before), "the board was not touched");
  } finally {
    await server.close();
    board.dispose();
    await tmp.remove();
  }
});

test.run();
