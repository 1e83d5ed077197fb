import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildEsp32Image, buildFlashLayout, buildPartitionTable, readEsp32Image, SINGLE_APP_TABLE } from "@hil/lab-agent";
import { spawnHil, withTempDir } from "@hil/test-kit";

async function hil(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = spawnHil(args);
  try {
    const code = await p.exited;
    return { code, out: p.output() };
  } finally {
    await p.stop();
  }
}

test("hil image info: a good image prints its fields and exits 0", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "app.bin");
    await writeFile(file, buildEsp32Image({ appDesc: { projectName: "thermostat", version: "4.5.6", idfVersion: "v5.1.2" } }));
    const { code, out } = await hil(["image", "info", file]);
    assert.is(code, 0, out);
    assert.match(out, "Chip:           ESP32 (chip id 0)");
    assert.match(out, /Checksum: 0x[0-9a-f]{2} \(valid\)/);
    assert.match(out, /Validation hash: [0-9a-f]{64} \(valid\)/);
    assert.match(out, "Project name:   thermostat");
    assert.match(out, "App version:    4.5.6");
    assert.match(out, "ESP-IDF:        v5.1.2");
    assert.match(out, "Image is valid.");
  });
});

test("hil image info: a corrupt image names what is wrong and exits 1; --json and --chip", async () => {
  await withTempDir(async (dir) => {
    const good = buildEsp32Image({ appDesc: { projectName: "thermostat", version: "4.5.6" } });
    const info = readEsp32Image(good);
    const at = info.segments[1]?.fileOffset ?? 0x400;
    const bad = good.slice();
    bad[at] = (bad[at] ?? 0) ^ 0x80;
    const file = join(dir, "bad.bin");
    await writeFile(file, bad);
    const stored = info.checksum.stored ?? 0;
    const { code, out } = await hil(["image", "info", file]);
    assert.is(code, 1, out);
    assert.match(out, `ERROR: checksum failed: calculated 0x${(stored ^ 0x80).toString(16).padStart(2, "0")}, stored 0x${stored.toString(16).padStart(2, "0")}`);
    assert.match(out, "ERROR: validation hash failed");

    const erased = join(dir, "erased.bin");
    await writeFile(erased, new Uint8Array(64).fill(0xff));
    const e = await hil(["image", "info", "--json", erased]);
    assert.is(e.code, 1, e.out);
    const parsed = JSON.parse(e.out) as { ok: boolean; problems: string[] };
    assert.is(parsed.ok, false);
    assert.match(parsed.problems[0] ?? "", "invalid magic byte 0xff");

    const goodFile = join(dir, "good.bin");
    await writeFile(goodFile, good);
    const s3 = await hil(["image", "info", "--chip", "esp32s3", goodFile]);
    assert.is(s3.code, 1, s3.out);
    assert.match(s3.out, "image is for ESP32 (chip id 0), board is ESP32-S3");

    const missing = await hil(["image", "info", join(dir, "nope.bin")]);
    assert.is(missing.code, 64, missing.out);
  });
});

test("hil image build writes an image that reads back with its scenario", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "built.bin");
    const { code, out } = await hil(["image", "build", "-o", file, "--project", "probe", "--app-version", "7.0", "--scenario", "console", "--pad-to", "64K"]);
    assert.is(code, 0, out);
    const { readFile } = await import("node:fs/promises");
    const info = readEsp32Image(new Uint8Array(await readFile(file)));
    assert.ok(info.ok, info.problems.join("\n"));
    assert.is(info.imageLength, 64 * 1024);
    assert.is(info.appDesc?.projectName, "probe");
    assert.is(info.scenario?.kind, "console");
  });
});

test("hil image partitions: lists a table inside a flash dump; a damaged one exits 1", async () => {
  await withTempDir(async (dir) => {
    const dump = join(dir, "flash.bin");
    await writeFile(dump, buildFlashLayout({ partitionTable: buildPartitionTable(SINGLE_APP_TABLE), app: buildEsp32Image(), flashSize: 0x20000 }));
    const app = await hil(["image", "info", "--offset", "0x10000", dump]);
    assert.is(app.code, 0, app.out);
    assert.match(app.out, "Project name:   hil_app");
    const ok = await hil(["image", "partitions", "--offset", "0x8000", dump]);
    assert.is(ok.code, 0, ok.out);
    assert.match(ok.out, " 2 factory          factory app      00 00 00010000 00100000\n");
    assert.match(ok.out, /MD5: [0-9a-f]{32} \(valid\)/);
    const table = buildPartitionTable(SINGLE_APP_TABLE);
    table[0x28] = (table[0x28] ?? 0) ^ 1;
    const bad = join(dir, "bad-table.bin");
    await writeFile(bad, table);
    const damaged = await hil(["image", "partitions", bad]);
    assert.is(damaged.code, 1, damaged.out);
    assert.match(damaged.out, "ERROR: partition table MD5 mismatch");
  });
});

test.run();
