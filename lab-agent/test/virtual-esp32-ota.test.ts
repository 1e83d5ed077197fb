// OTA on the virtual ESP32: the board's firmware downloads over real HTTP from the agent's OTA
// server, writes the next slot and otadata, and its bootloader confirms or rolls back. otadata is
// checked as raw flash bytes (what `esptool read-flash 0xd000 0x2000` would show), decoded here
// independently of the lab's own otadata module, with zlib's CRC-32.
import { crc32 } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makeTempDir } from "@hil/test-kit";
import { buildEsp32Image, buildFlashLayout, buildOtadata, buildPartitionTable, idfBuildImages, OTA_ONLY_TABLE, OTA_STATES, readIdfBuild, TWO_OTA_TABLE, writeIdfBuildDir } from "../src/esp32-image/index.js";
import { OtaHttpServer, type OtaServeOptions } from "../src/runner/steps/ota-http-server.js";
import { VirtualEsp32 } from "../src/virtual/esp32/index.js";

const OTADATA = 0xd000;
const OTA_0 = 0x10000;
const OTA_1 = 0x190000;

function image(version: string, markValid = true): Uint8Array {
  return buildEsp32Image({ appDesc: { projectName: "ota_demo", version }, scenario: { kind: "ota", markValid }, padTo: 0x10000, padSeed: version.length * 7 + version.charCodeAt(0) });
}

/** esp_ota_select_entry_t at the start of each otadata sector, decoded by hand. */
function otadataOf(flash: Uint8Array): { seq: number; state: number; crcOk: boolean; erased: boolean }[] {
  return [0, 0x1000].map((at) => {
    const b = Buffer.from(flash.subarray(OTADATA + at, OTADATA + at + 32));
    const seq = b.readUInt32LE(0);
    const crc = b.readUInt32LE(28);
    // esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4) is zlib's crc32 continued from 0xFFFFFFFF
    const crcOk = crc === crc32(b.subarray(0, 4), 0xffffffff);
    assert.ok(b.subarray(4, 24).every((x) => x === 0xff), "seq_label stays erased");
    const rest = flash.subarray(OTADATA + at + 32, OTADATA + at + 0x1000);
    assert.ok(rest.every((x) => x === 0xff), "the rest of the sector stays erased");
    return { seq, state: b.readUInt32LE(24), crcOk, erased: b.every((x) => x === 0xff) };
  });
}

const PENDING_VERIFY = 1;
const VALID = 2;
const ABORTED = 4;

class Board {
  readonly board = new VirtualEsp32({ id: "ota-test" });
  output = "";
  private readonly waiters = new Set<() => void>();
  constructor() {
    this.board.onTransmit((bytes) => {
      this.output += new TextDecoder().decode(bytes).replace(/\x1b\[[0-9;]*m/g, "");
      for (const w of [...this.waiters]) w();
    });
  }
  get flash(): Uint8Array {
    return this.board.flash;
  }
  mark(): number {
    return this.output.length;
  }
  waitFor(pattern: RegExp, from: number, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.output.slice(from).match(pattern);
        if (!m) return false;
        clearTimeout(timer);
        this.waiters.delete(onOut);
        resolve(m);
        return true;
      };
      const onOut = () => void check();
      const timer = setTimeout(() => {
        this.waiters.delete(onOut);
        reject(new Error(`timed out waiting for ${pattern}; output since mark:\n${this.output.slice(from)}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(onOut);
    });
  }
  /** Types a line once the prompt is there (input typed while the app boots is lost, as on a board). */
  async command(line: string, from: number): Promise<void> {
    if (!this.output.endsWith("esp32> ")) await this.waitFor(/esp32> $/, from);
    this.board.receive(new TextEncoder().encode(`${line}\r\n`));
  }
  /** Boot text since `from`: which partition, which version. */
  async booted(from: number): Promise<{ offset: number; version: string }> {
    const loaded = await this.waitFor(/boot: Loaded app from partition at offset (0x[0-9a-f]+)/, from);
    const version = await this.waitFor(/App version:\s+(\S+)/, from);
    return { offset: Number(loaded[1]), version: version[1] ?? "" };
  }
}

async function withBoard(fn: (b: Board, serve: (o: Omit<OtaServeOptions, "host">) => Promise<OtaHttpServer>) => Promise<void>): Promise<void> {
  const b = new Board();
  const servers: OtaHttpServer[] = [];
  b.board.preload(0, buildFlashLayout({ partitionTable: buildPartitionTable(OTA_ONLY_TABLE), app: image("1.0.0"), appOffset: OTA_0 }));
  try {
    await fn(b, async (o) => {
      const s = await OtaHttpServer.start({ host: "127.0.0.1", ...o });
      servers.push(s);
      return s;
    });
  } finally {
    b.board.dispose();
    for (const s of servers) await s.close();
  }
}

test("erased otadata, no factory: the bootloader boots ota_0 and records seq 1 VALID in otadata[0]", async () => {
  await withBoard(async (b) => {
    b.board.reset("run");
    const boot = await b.booted(0);
    assert.equal(boot, { offset: OTA_0, version: "1.0.0" });
    assert.match(b.output, /boot: No factory image, trying OTA 0\r\n/);
    assert.match(b.output, /boot:  1 otadata          OTA data         01 00 0000d000 00002000\r\n/);
    assert.match(b.output, /Loaded app from partition at offset 0x10000\r\nI \(\d+\) boot: Set actual ota_seq=1 in otadata\[0\]\r\n/);
    const [a, c] = otadataOf(b.flash);
    assert.equal([a?.seq, a?.state, a?.crcOk], [1, VALID, true]);
    assert.ok(c?.erased);
  });
});

test("ota <url>: v2 lands in ota_1 and confirms itself; v3 that does not is rolled back to v2 at the next reset", async () => {
  await withBoard(async (b, serve) => {
    b.board.reset("run");
    let m = b.mark();
    await b.booted(0);
    const v2 = await serve({ image: image("2.0.0") });
    await b.command(`ota ${v2.url}`, m);
    m = b.mark();
    await b.waitFor(/ota: Writing to partition subtype 17 at offset 0x190000[\s\S]*New firmware version: 2\.0\.0[\s\S]*Prepare to restart system!/, 0);
    assert.equal(await b.booted(m), { offset: OTA_1, version: "2.0.0" });
    await b.waitFor(/rst:0xc \(SW_CPU_RESET\)/, m);
    await b.waitFor(/ota: Diagnostics completed successfully! Continuing execution \.\.\./, m);
    let [e0, e1] = otadataOf(b.flash);
    assert.equal([e0?.seq, e0?.state, e1?.seq, e1?.state, e1?.crcOk], [1, VALID, 2, VALID, true]);
    assert.equal(v2.requests.map((r) => [r.path, r.end]), [["/firmware.bin", "done"]]);

    const v3 = await serve({ image: image("3.0.0", false) });
    await b.command(`ota ${v3.url}`, m);
    m = b.mark();
    assert.equal(await b.booted(m), { offset: OTA_0, version: "3.0.0" });
    await b.waitFor(/W \(\d+\) ota: ota_0 is PENDING_VERIFY and this app does not confirm itself/, m);
    [e0, e1] = otadataOf(b.flash);
    // esp_ota_set_boot_partition wrote seq 3 (selects (3-1)%2 = ota_0) as NEW; the bootloader made it PENDING_VERIFY
    assert.equal([e0?.seq, e0?.state, e1?.seq, e1?.state], [3, PENDING_VERIFY, 2, VALID]);

    m = b.mark();
    b.board.reset("run");
    assert.equal(await b.booted(m), { offset: OTA_1, version: "2.0.0" });
    [e0, e1] = otadataOf(b.flash);
    assert.equal([e0?.seq, e0?.state, e0?.crcOk, e1?.seq, e1?.state], [3, ABORTED, true, 2, VALID]);
    // and it stays rolled back
    m = b.mark();
    b.board.reset("run");
    assert.equal(await b.booted(m), { offset: OTA_1, version: "2.0.0" });
  });
});

test("a cut download, a wrong-chip image and a corrupt one are refused: running slot and otadata untouched, no restart", async () => {
  await withBoard(async (b, serve) => {
    b.board.reset("run");
    let m = b.mark();
    await b.booted(0);
    await b.waitFor(/esp32> $/m, m);
    const otadataBefore = b.flash.slice(OTADATA, OTADATA + 0x2000);
    const runningBefore = b.flash.slice(OTA_0, OTA_0 + 0x10000);
    const cases: [Partial<OtaServeOptions>, RegExp][] = [
      [{ fault: "cut", cutAtPercent: 40 }, /E \(\d+\) ota: Error: connection closed after \d+ of 65536 bytes/],
      [{ fault: "wrong-chip" }, /E \(\d+\) boot_comm: mismatch chip ID, expected 0, found 9\r\nE \(\d+\) ota: Image validation failed, image is corrupted/],
      [{ fault: "corrupt" }, /E \(\d+\) esp_image: Checksum failed\. Calculated 0x[0-9a-f]+ read 0x[0-9a-f]+\r\nE \(\d+\) ota: Image validation failed, image is corrupted/],
    ];
    for (const [fault, line] of cases) {
      const s = await serve({ image: image("4.0.0"), ...fault });
      m = b.mark();
      await b.command(`ota ${s.url}`, m);
      await b.waitFor(line, m);
      await b.waitFor(/ota: OTA failed: ota_0 keeps running, otadata unchanged\r\n(esp32> )?/, m);
      await b.waitFor(/esp32> $/m, m);
      assert.equal(b.flash.slice(OTADATA, OTADATA + 0x2000), otadataBefore, `otadata after ${fault.fault}`);
      assert.equal(b.flash.slice(OTA_0, OTA_0 + 0x10000), runningBefore, `ota_0 after ${fault.fault}`);
      assert.not.match(b.output.slice(m), /rst:0x/, `no restart after ${fault.fault}`);
    }
    m = b.mark();
    b.board.reset("run");
    assert.equal(await b.booted(m), { offset: OTA_0, version: "1.0.0" });
  });
});

test("with a factory app (partitions_two_ota): erased otadata boots factory; an update goes to ota_0 as seq 1", async () => {
  const b = new Board();
  const v2 = await OtaHttpServer.start({ host: "127.0.0.1", image: image("2.0.0") });
  try {
    b.board.preload(0, buildFlashLayout({ partitionTable: buildPartitionTable(TWO_OTA_TABLE), app: image("1.0.0"), appOffset: 0x10000 }));
    b.board.reset("run");
    assert.equal(await b.booted(0), { offset: 0x10000, version: "1.0.0" });
    assert.match(b.output, /boot: Defaulting to factory image\r\n/);
    assert.not.match(b.output, /Set actual ota_seq/);
    assert.ok(otadataOf(b.flash).every((e) => e.erased), "booting factory writes nothing");
    const m = b.mark();
    await b.command(`ota ${v2.url}`, 0);
    await b.waitFor(/Writing to partition subtype 16 at offset 0x110000/, m);
    assert.equal(await b.booted(m), { offset: 0x110000, version: "2.0.0" });
    const [e0, e1] = otadataOf(b.flash);
    assert.equal([e0?.seq, e0?.state, e0?.crcOk, e1?.erased], [1, VALID, true, true]);
  } finally {
    b.board.dispose();
    await v2.close();
  }
});

test("an OTA ESP-IDF build (bootloader, table, ota_data_initial.bin, app) flashed as idf.py would: app boots from ota_0", async () => {
  const dir = await makeTempDir("hil-ota-build-");
  const b = new Board();
  try {
    await writeIdfBuildDir(dir.dir, { project: "ota_build", version: "1.2.3", ota: true, scenario: { kind: "ota" } });
    const build = await readIdfBuild(dir.dir);
    assert.equal(build.files.map((f) => [f.offset, f.name, f.role]), [
      [0x1000, "bootloader/bootloader.bin", "bootloader"],
      [0x8000, "partition_table/partition-table.bin", "partition-table"],
      [OTADATA, "ota_data_initial.bin", "other"],
      [OTA_0, "ota_build.bin", "app"],
    ]);
    // a board that had booted ota_1 before: flashing the build's erased otadata starts over at ota_0
    b.board.preload(OTADATA, buildOtadata([undefined, { seq: 2, state: OTA_STATES.VALID }]));
    for (const part of idfBuildImages(build)) b.board.preload(part.offset, part.data);
    b.board.reset("run");
    assert.equal(await b.booted(0), { offset: OTA_0, version: "1.2.3" });
    assert.match(b.output, /Set actual ota_seq=1 in otadata\[0\]/);
  } finally {
    b.board.dispose();
    await dir.remove();
  }
});

test("manifest polling: the app fetches the version the manifest names, once", async () => {
  const b = new Board();
  const v2 = await OtaHttpServer.start({ host: "127.0.0.1", image: image("2.0.0") });
  try {
    const v1 = buildEsp32Image({ appDesc: { projectName: "ota_demo", version: "1.0.0" }, scenario: { kind: "ota", manifestUrl: v2.manifestUrl, pollMs: 200 } });
    b.board.preload(0, buildFlashLayout({ partitionTable: buildPartitionTable(OTA_ONLY_TABLE), app: v1, appOffset: OTA_0 }));
    b.board.reset("run");
    await b.waitFor(/ota: Manifest offers version 2\.0\.0 \(running 1\.0\.0\)/, 0);
    const m = b.mark();
    assert.equal(await b.booted(m), { offset: OTA_1, version: "2.0.0" });
    assert.equal(v2.requests.filter((r) => r.path === "/firmware.bin").length, 1);
  } finally {
    b.board.dispose();
    await v2.close();
  }
});

test.run();
