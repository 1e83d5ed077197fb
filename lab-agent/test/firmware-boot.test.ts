import { test } from "uvu";
import * as assert from "uvu/assert";
import { sleep } from "@hil/test-kit";
import { buildEsp32Image, buildFlashLayout, buildPartitionTable, readEsp32Image, SINGLE_APP_TABLE } from "../src/esp32-image/index.js";
import { ScenarioSpecSchema } from "../src/virtual/esp32/firmware/index.js";
import { FirmwareBench } from "./firmware-bench.js";

const APP = { projectName: "door_sensor", version: "v1.4.2", idfVersion: "v5.2.1", date: "Feb 20 2025", time: "10:11:12" };

function flashWith(app: Uint8Array, table = true): Uint8Array {
  return buildFlashLayout({ app, ...(table ? { partitionTable: buildPartitionTable(SINGLE_APP_TABLE) } : {}) });
}

async function withBench(flash: Uint8Array, fn: (b: FirmwareBench) => Promise<void>, opts: ConstructorParameters<typeof FirmwareBench>[1] = {}): Promise<void> {
  const bench = new FirmwareBench(flash, opts);
  try {
    bench.boot();
    await fn(bench);
  } finally {
    bench.stop();
  }
}

test("empty flash: invalid magic byte, not bootable, then a SW_RESET boot loop", async () => {
  await withBench(new Uint8Array(4 * 1024 * 1024).fill(0xff), async (b) => {
    await b.waitFor(/E \(\d+\) esp_image: image at 0x10000 has invalid magic byte \(nothing flashed here\?\)\r\n/);
    await b.waitFor(/E \(\d+\) boot: Factory app partition is not bootable\r\nE \(\d+\) boot: No bootable app partitions in the partition table\r\n/);
    await b.waitFor(/rst:0x3 \(SW_RESET\),boot:0x13[\s\S]*rst:0x3 \(SW_RESET\)/);
    assert.ok(b.reboots.length >= 2);
    assert.ok(b.reboots.every((r) => r.code === 3 && r.name === "SW_RESET"));
    assert.not.match(b.plain, "Calling app_main()");
    // the bootloader lines carry IDF's red colour for errors
    assert.match(b.output, "\x1b[0;31mE (");
  });
});

test("good image: bootloader listing, segments, app information from esp_app_desc_t, app_main", async () => {
  await withBench(flashWith(buildEsp32Image({ appDesc: APP })), async (b) => {
    await b.waitFor(/main_task: Calling app_main\(\)\r\n/);
    const out = b.plain;
    assert.match(out, /^ets Jun {2}8 2016 00:22:57\r\n\r\nrst:0x1 \(POWERON_RESET\),boot:0x13 \(SPI_FAST_FLASH_BOOT\)\r\nconfigsip: 0, SPIWP:0xee\r\n/);
    assert.match(out, /I \(\d+\) boot: ESP-IDF v5\.2\.1 2nd stage bootloader\r\n/);
    assert.match(out, /I \(\d+\) boot:  2 factory          factory app      00 00 00010000 00100000\r\n/);
    assert.match(out, /I \(\d+\) esp_image: segment 0: paddr=00010020 vaddr=3f400020 size=\S+ \(\s*\d+\) map\r\n/);
    assert.match(out, /I \(\d+\) boot: Loaded app from partition at offset 0x10000\r\n/);
    assert.match(out, /I \(\d+\) app_init: Project name: {5}door_sensor\r\n/);
    assert.match(out, /I \(\d+\) app_init: App version: {6}v1\.4\.2\r\n/);
    assert.match(out, /I \(\d+\) app_init: Compile time: {5}Feb 20 2025 10:11:12\r\n/);
    assert.match(out, /I \(\d+\) app_init: ESP-IDF: {10}v5\.2\.1\r\n/);
    assert.match(out, /I \(\d+\) app_init: ELF file SHA256: {2}[0-9a-f]{16}\.\.\.\r\n/);
    await b.waitFor(/main_task: Returned from app_main\(\)/);
    // every line ends in CRLF: no bare LF anywhere
    assert.not.match(b.output, /[^\r]\n/);
  });
});

test("no partition table: the app at 0x10000 is taken, even a 2 MiB one", async () => {
  await withBench(flashWith(buildEsp32Image({ appDesc: APP, padTo: 2 * 1024 * 1024 }), false), async (b) => {
    await b.waitFor(/Project name: +door_sensor/);
    assert.match(b.plain, "boot: Loaded app from partition at offset 0x10000");
    assert.match(b.plain, /boot: {2}2 factory {10}factory app {6}00 00 00010000 003f0000\r\n/);
  });
});

test("an app longer than its partition does not fit", async () => {
  const flash = flashWith(buildEsp32Image({ appDesc: APP, padTo: 0x100000 + 0x1000 }));
  await withBench(flash, async (b) => {
    await b.waitFor(/E \(\d+\) esp_image: Image length \d+ doesn't fit in partition length 1048576\r\n[\s\S]*Factory app partition is not bootable/);
  });
});

test("ESP32-S3 image: mismatch chip ID, expected 0, found 9", async () => {
  await withBench(flashWith(buildEsp32Image({ chip: "esp32s3", appDesc: APP })), async (b) => {
    await b.waitFor(/E \(\d+\) boot_comm: mismatch chip ID, expected 0, found 9\r\nE \(\d+\) boot: Factory app partition is not bootable/);
    await b.waitFor(/rst:0x3 \(SW_RESET\)/);
    assert.not.match(b.plain, "app_main");
  });
});

test("flipped data byte: Checksum failed with both values; flipped header byte: Image hash failed", async () => {
  const image = buildEsp32Image({ appDesc: APP });
  const info = readEsp32Image(image);
  const seg = info.segments[1];
  assert.ok(seg);
  const flipped = image.slice();
  flipped[seg.fileOffset] = (flipped[seg.fileOffset] ?? 0) ^ 0x10;
  const stored = info.checksum.stored ?? 0;
  await withBench(flashWith(flipped), async (b) => {
    await b.waitFor(new RegExp(`E \\(\\d+\\) esp_image: Checksum failed\\. Calculated 0x${(stored ^ 0x10).toString(16)} read 0x${stored.toString(16)}\\r\\n`));
    await b.waitFor(/boot: No bootable app partitions in the partition table/);
  });
  const header = image.slice();
  header[4] = (header[4] ?? 0) ^ 0x04;
  await withBench(flashWith(header), async (b) => {
    await b.waitFor(/E \(\d+\) esp_image: Image hash failed - image is corrupt\r\n/);
  });
});

test("reflash and reboot gives the new image's boot log", async () => {
  const flash = flashWith(buildEsp32Image({ appDesc: APP }));
  const bench = new FirmwareBench(flash);
  try {
    bench.boot();
    await bench.waitFor(/App version: +v1\.4\.2/);
    flash.set(buildEsp32Image({ appDesc: { ...APP, projectName: "door_sensor_ng", version: "v2.0.0" } }), 0x10000);
    const from = bench.plain.length;
    bench.boot({ code: 0x1, name: "POWERON_RESET" });
    await bench.waitFor(/Project name: +door_sensor_ng\r\n[\s\S]*App version: +v2\.0\.0/, 10_000, from);
  } finally {
    bench.stop();
  }
});

test("OTA-only table: factory missing, ota_0 boots; bad ota_0 names its slot", async () => {
  const table = buildPartitionTable([
    { label: "nvs", type: "data", subtype: "nvs", offset: 0x9000, size: 0x4000 },
    { label: "otadata", type: "data", subtype: "ota", offset: 0xd000, size: 0x2000 },
    { label: "ota_0", type: "app", subtype: "ota_0", offset: 0x20000, size: 0x100000 },
  ]);
  const good = buildFlashLayout({ partitionTable: table, app: buildEsp32Image({ appDesc: APP }), appOffset: 0x20000 });
  await withBench(good, async (b) => {
    await b.waitFor(/boot: Loaded app from partition at offset 0x20000/);
    assert.match(b.plain, "OTA data");
  });
  const bad = buildFlashLayout({ partitionTable: table, app: new Uint8Array(16), appOffset: 0x20000 });
  await withBench(bad, async (b) => {
    await b.waitFor(/image at 0x20000 has invalid magic byte[\s\S]*boot: OTA app partition slot 0 is not bootable/);
  });
});

test("scenario choice: board override beats manifest beats the image's own", async () => {
  const image = buildEsp32Image({ appDesc: APP, scenario: { kind: "logger", intervalMs: 20, message: "from-image" } });
  const sha = readEsp32Image(image).sha256;
  await withBench(flashWith(image), async (b) => {
    await b.waitFor(/app: from-image 2/);
  });
  const manifest = { images: { [sha]: ScenarioSpecSchema.parse({ kind: "logger", intervalMs: 20, message: "from-manifest" }) } };
  await withBench(flashWith(image), async (b) => {
    await b.waitFor(/app: from-manifest 2/);
    assert.not.match(b.plain, "from-image");
  }, { manifest });
  await withBench(flashWith(image), async (b) => {
    await b.waitFor(/app: from-board 2/);
  }, { manifest, scenario: ScenarioSpecSchema.parse({ kind: "logger", intervalMs: 20, message: "from-board" }) });
});

test("stop() clears every timer: nothing is printed after a reset", async () => {
  const bench = new FirmwareBench(flashWith(buildEsp32Image({ appDesc: APP, scenario: { kind: "logger", intervalMs: 10 } })));
  bench.boot();
  try {
    await bench.waitFor(/tick 3/);
  } finally {
    bench.stop();
  }
  const length = bench.output.length;
  await sleep(150);
  assert.is(bench.output.length, length);
});

test.run();
