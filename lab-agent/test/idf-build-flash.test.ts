// `hil flash build/`: an ESP-IDF build directory as idf.py leaves it (flasher_args.json naming the
// bootloader, partition table and app with their offsets, flash settings and chip) written to a virtual
// board over RFC 2217, which then boots the app from where the build's partition table puts it.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir, spawnHil } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { isTar, packIdfBuild, packTar, readEsp32Image, readIdfBuild, readIdfBuildArchive, unpackTar, withFlashSettings, writeIdfBuildDir } from "../src/index.js";
import { Rfc2217Server } from "../src/links/rfc2217/rfc2217-server.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import { sameBytes } from "./virtual-esp32-esptool.js";

const APP = "idf_build_app";

/** A build whose partition table puts the factory app at 0x20000; the bootloader's header says qio/2MB/80m, the project dio/4MB/40m. */
function writeBuild(dir: string, chip: "esp32" | "esp32s3" = "esp32") {
  return writeIdfBuildDir(dir, { project: APP, version: "0.3.0", chip, appOffset: 0x20000, scenario: { kind: "idle" }, bootloaderHeader: { mode: "qio", size: "2MB", freq: "80m" } }).then((p) => ({ bootloader: p.bootloader, table: p.partitionTable, app: p.app }));
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
    assert.match(await readIdfBuild(tmp.dir).then(() => "", (e: Error) => e.message), /flash_files\.0x1000: missing\.bin: cannot read missing\.bin/);
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

test("a build packs into one tar holding flasher_args.json and exactly its files, and reads back the same; a damaged archive is refused", async () => {
  const tmp = await makeTempDir("hil-idf-");
  try {
    await writeBuild(tmp.dir);
    await writeFile(join(tmp.dir, "unrelated.elf"), new Uint8Array(1000));
    const tar = await packIdfBuild(tmp.dir);
    assert.ok(isTar(tar));
    assert.equal([...unpackTar(tar).keys()].sort(), ["bootloader/bootloader.bin", "flasher_args.json", "idf_build_app.bin", "partition_table/partition-table.bin"]);
    const fromDir = await readIdfBuild(tmp.dir);
    const fromTar = await readIdfBuildArchive(tar);
    assert.equal(fromTar.files.map((f) => [f.offset, f.name, f.role, Buffer.from(f.data).toString("base64")]), fromDir.files.map((f) => [f.offset, f.name, f.role, Buffer.from(f.data).toString("base64")]));
    const damaged = new Uint8Array(tar);
    damaged[100] = (damaged[100] ?? 0) ^ 0xff;
    assert.match(await readIdfBuildArchive(damaged).then(() => "", (e: Error) => e.message), /checksum wrong/);
    assert.match(await readIdfBuildArchive(tar.subarray(0, 1500)).then(() => "", (e: Error) => e.message), /cut short/);
    assert.match(await readIdfBuildArchive(packTar([{ name: "x.bin", data: new Uint8Array(3) }])).then(() => "", (e: Error) => e.message), /no flasher_args\.json/);
    assert.throws(() => packTar([{ name: "../etc/passwd", data: new Uint8Array(1) }]), /not a relative file name/);
    // a long path goes through ustar's prefix field
    const long = `${"d".repeat(90)}/${"e".repeat(60)}/f.bin`;
    assert.equal([...unpackTar(packTar([{ name: long, data: Uint8Array.of(1, 2, 3) }])).entries()].map(([k, v]) => [k, [...v]]), [[long, [1, 2, 3]]]);
  } finally {
    await tmp.remove();
  }
});

test("hil test --artifact app=build/: esp32-smoke takes a whole build and the board boots it from the build's partition table", async () => {
  const tmp = await makeTempDir("hil-idf-");
  const board = new VirtualEsp32({ id: "idf-1", mac: "24:0a:c4:00:11:33" });
  const server = new Rfc2217Server(board, { port: 0 });
  const { url } = await server.listen();
  try {
    const build = join(tmp.dir, "build");
    await writeBuild(build);
    const out = join(tmp.dir, "out");
    const r = spawnHil(["test", "--port", url, "--profile", "esp32-virtual", "--suite", "esp32-smoke", "--artifact", `app=${build}`, "--out", out, "--quiet"]);
    assert.is(await r.exited, 0, r.output());
    const log = await readFile(join(out, "console.log"), "utf8");
    assert.match(log, /boot: Loaded app from partition at offset 0x20000/);
    assert.match(log, new RegExp(`Project name: +${APP}`));
  } finally {
    await server.close();
    board.dispose();
    await tmp.remove();
  }
});

test.run();
