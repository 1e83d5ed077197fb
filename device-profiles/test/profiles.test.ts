import { readFile, rm, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  checkProfileFiles,
  deviceProfileJsonSchema,
  fillOtaHeaders,
  formatProblem,
  loadProfileFile,
  loadProfiles,
  otaHeaderEnvNames,
  packageDirOf,
  parseResetSequence,
  PROFILES_DIR,
  yamlFilesIn,
  type DeviceProfile,
  type Esp32Profile,
  type Problem,
} from "../src/index.js";

function esp32(p: DeviceProfile | undefined): Esp32Profile {
  assert.ok(p && p.kind === "esp32", `an esp32 profile: ${p?.id}`);
  return p as Esp32Profile;
}

const SHIPPED = ["android-generic", "android-virtual", "esp32-devkitc", "esp32-s3-devkitc-1", "esp32-virtual"];

let tmp = "";
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "hil-profiles-"));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function check(name: string, text: string): Promise<Problem[]> {
  const file = join(tmp, name);
  await writeFile(file, text);
  return checkProfileFiles([file]);
}

/** A minimal valid esp32 profile; lines are numbered in the comments the tests rely on. */
const ESP32 = `id: tiny-esp32
name: Tiny
kind: esp32
chip: esp32
virtual: true
serial:
  baud: 115200
  flashBaud: 460800
reset:
  download: D0|R1|W100|D1|R0|W50|D0
  run: D0|R1|W100|R0
flash:
  size: 2MB
  mode: dio
  freq: 40m
  bootloaderOffset: 0x1000
  partitionTableOffset: "0x8000"
  appOffset: 65536
console:
  bootMarker: 'rst:0x[0-9a-f]+ \\('
  appStartMarker: app_main
  panicPattern: Guru Meditation Error
`;

test("every shipped profile is valid, and each file has a JSON Schema modeline", async () => {
  const files = await yamlFilesIn(PROFILES_DIR);
  assert.equal(files.map((f) => basename(f, ".yaml")), SHIPPED);
  const problems = await checkProfileFiles(files);
  assert.equal(problems.map(formatProblem), []);
  for (const f of files) {
    assert.match(await readFile(f, "utf8"), /^# yaml-language-server: \$schema=\.\.\/schema\/device-profile\.schema\.json\n/, f);
  }
  const all = await loadProfiles();
  assert.equal([...all.keys()].sort(), SHIPPED);
});

test("esp32-devkitc parses to the documented numbers and sequences", async () => {
  const p = esp32((await loadProfiles()).get("esp32-devkitc"));
  assert.is(p.chip, "esp32");
  assert.is(p.virtual, false);
  assert.equal(
    p.usb.map((u) => `${u.vendorId}:${u.productId}`),
    ["10c4:ea60", "1a86:7523"],
  );
  assert.equal(p.serial, { baud: 115200, flashBaud: 921600 });
  assert.equal(p.flash, { size: 4 * 1024 * 1024, mode: "dio", freq: "40m", bootloaderOffset: 0x1000, partitionTableOffset: 0x8000, appOffset: 0x10000 });
  assert.is(p.reset?.download, "D0|R1|W100|D1|R0|W50|D0");
  assert.is(parseResetSequence(p.reset?.run ?? "").length, 4);
  const c = p.console;
  assert.ok(c);
  assert.ok(new RegExp(c.bootMarker).test("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"));
  assert.ok(new RegExp(c.appStartMarker).test("I (312) main_task: Calling app_main()"));
  assert.ok(new RegExp(c.panicPattern).test("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled."));
  assert.ok(new RegExp(c.panicPattern).test("abort() was called at PC 0x400d1234 on core 0"));
  assert.not.ok(new RegExp(c.panicPattern).test("I (312) main_task: Calling app_main()"));
});

test("esp32-s3 has its bootloader at 0x0, native USB that re-enumerates, and the USB-JTAG reset", async () => {
  const all = await loadProfiles();
  const s3 = esp32(all.get("esp32-s3-devkitc-1"));
  assert.is(s3.chip, "esp32s3");
  assert.is(s3.flash?.bootloaderOffset, 0);
  assert.is(s3.reset?.usbReenumerates, true);
  assert.equal(s3.usb[0], { vendorId: "303a", productId: "1001", description: s3.usb[0]?.description });
  assert.is(all.get("esp32-virtual")?.virtual, true);
  assert.is(all.get("android-virtual")?.virtual, true);
  const phone = all.get("android-generic");
  assert.ok(phone?.kind === "android");
  assert.equal(phone.android, { adb: true, fastboot: true });
  assert.not.ok("serial" in phone);
});

test("friendly YAML forms parse to numbers", async () => {
  const file = join(tmp, "tiny.yaml");
  await writeFile(file, ESP32);
  const p = esp32(await loadProfileFile(file));
  assert.equal(p.flash, { size: 2 * 1024 * 1024, mode: "dio", freq: "40m", bootloaderOffset: 0x1000, partitionTableOffset: 0x8000, appOffset: 0x10000 });
  assert.is(p.console.bootLoopCount, 3);
  assert.equal(p.capabilities, ["flash", "reset", "console", "unity"], "no capabilities given: all an ESP32 driver provides");
});

test("an unknown field is reported at its own line, with a hint", async () => {
  const problems = await check("unknown.yaml", ESP32.replace("  freq: 40m", "  freq: 40m\n  speed: fast"));
  assert.equal(problems.map((p) => [p.line, p.path, p.message]), [[16, "flash.speed", "unknown field"]]);
});

test("a missing field points at its parent mapping's line", async () => {
  const problems = await check("missing.yaml", ESP32.replace("virtual: true\n", 'usb:\n  - vendorId: "10c4"\n'));
  assert.equal(problems.map((p) => [p.line, p.path]), [[6, "usb[0].productId"]]);
  assert.match(problems[0]?.message ?? "", /missing field/);
});

test("an esp32 profile needs only its chip: every section has its defaults in the schema", async () => {
  const problems = await check("bare.yaml", "id: bare\nname: Bare\nkind: esp32\nvirtual: true\n");
  assert.equal(problems.map((p) => p.path), ["chip"]);
  const file = join(tmp, "minimal.yaml");
  await writeFile(file, "id: minimal\nname: Minimal\nkind: esp32\nchip: esp32c3\nvirtual: true\n");
  const p = esp32(await loadProfileFile(file));
  assert.equal(p.serial, { baud: 115200, flashBaud: 460800 });
  assert.equal(p.flash, { size: 4 * 1024 * 1024, mode: "dio", freq: "40m", bootloaderOffset: 0, partitionTableOffset: 0x8000, appOffset: 0x10000 }, "a C3's bootloader is at 0x0");
  assert.equal(p.reset, { download: "D0|R1|W100|D1|R0|W50|D0", run: "D0|R1|W100|R0", usbReenumerates: false });
  assert.ok(new RegExp(p.console.panicPattern).test("abort() was called at PC 0x400d1234 on core 0"));
  assert.ok(new RegExp(p.console.appStartMarker).test("I (312) main_task: Calling app_main()"));
});

test("a profile cannot claim a capability its kind's driver does not provide; fastboot needs a bootloader", async () => {
  const phone = "id: phone\nname: Phone\nkind: android\nvirtual: true\n";
  const claims = await check("claims.yaml", `${phone}capabilities: [adb, unity, shell]\n`);
  assert.equal(claims.map((p) => [p.line, p.path]), [[5, "capabilities[1]"]]);
  assert.match(claims[0]?.message ?? "", /"unity" is not something a kind: android board's driver provides \(it provides: adb, install/);
  const board = await check("board-claims.yaml", ESP32 + "capabilities: [flash, install]\n");
  assert.equal(board.map((p) => p.path), ["capabilities[1]"]);
  const noBootloader = await check("nofb.yaml", `${phone}android: {fastboot: false}\ncapabilities: [adb, fastboot]\n`);
  assert.equal(noBootloader.map((p) => p.path), ["capabilities[1]"]);
  assert.match(noBootloader[0]?.message ?? "", /android\.fastboot: true/);
  const file = join(tmp, "phone.yaml");
  await writeFile(file, `${phone}match: {model: Pixel 8, minSdk: 33}\n`);
  const p = await loadProfileFile(file);
  assert.ok(p.kind === "android");
  assert.equal(p.android, { adb: true, fastboot: false });
  assert.equal(p.capabilities, ["adb", "install", "instrument", "shell", "push", "logcat", "reboot"], "defaults: what the driver provides, fastboot only with a bootloader");
  assert.equal(p.match, { model: "Pixel 8", minSdk: 33 });
});

test("ota.trigger: a console command, an HTTP request or a polled manifest; a bad field is named at its line", async () => {
  const file = join(tmp, "ota.yaml");
  await writeFile(file, ESP32 + "ota:\n  trigger:\n    via: http\n    url: 'http://192.168.4.1/ota'\n    body: '{url}'\n");
  assert.equal(esp32(await loadProfileFile(file)).ota?.trigger, { via: "http", url: "http://192.168.4.1/ota", method: "POST", body: "{url}" });
  assert.equal(esp32((await loadProfiles()).get("esp32-virtual")).ota?.trigger, { via: "command", command: "ota {url}" });
  const placeholder = await check("ota-placeholder.yaml", ESP32 + "ota:\n  trigger:\n    via: command\n    command: 'ota {uri}'\n");
  assert.equal(placeholder.map((p) => [p.line, p.path]), [[26, "ota.trigger.command"]]);
  assert.match(placeholder[0]?.message ?? "", /\{uri\} is not a placeholder; use \{url\}, \{manifest\}, \{version\}/);
  const via = await check("ota-via.yaml", ESP32 + "ota:\n  trigger:\n    via: mqtt\n    command: 'ota {url}'\n");
  assert.equal(via.map((p) => p.path), ["ota.trigger.via"]);
  assert.match(via[0]?.message ?? "", /command|http|poll/);
  const get = await check("ota-get.yaml", ESP32 + "ota:\n  trigger:\n    via: http\n    url: 'http://192.168.4.1/ota?u={url}'\n    method: GET\n    body: x\n");
  assert.equal(get.map((p) => p.path), ["ota.trigger.body"]);
  const field = await check("ota-field.yaml", ESP32 + "ota:\n  trigger:\n    via: poll\n    command: 'ota {url}'\n");
  assert.equal(field.map((p) => [p.path, p.message]), [["ota.trigger.command", "unknown field"]]);
  const phone = await check("ota-phone.yaml", "id: phone\nname: Phone\nkind: android\nvirtual: true\nota:\n  trigger: { via: poll }\n");
  assert.equal(phone.map((p) => p.path), ["ota"], "an android profile has no ota section");
});

test("ota.trigger.headers: {env:NAME} for secrets, in header values only; bad names and values named at their line", async () => {
  const file = join(tmp, "ota-headers.yaml");
  const headers = "    headers:\n      Authorization: 'Bearer {env:OTA_TOKEN}'\n      X-Version: '{version}'\n";
  await writeFile(file, ESP32 + "ota:\n  trigger:\n    via: http\n    url: 'http://192.168.4.1/ota'\n" + headers);
  const trigger = esp32(await loadProfileFile(file)).ota?.trigger;
  assert.equal(trigger?.via === "http" ? trigger.headers : undefined, { Authorization: "Bearer {env:OTA_TOKEN}", "X-Version": "{version}" });

  const http = ESP32 + "ota:\n  trigger:\n    via: http\n    url: 'http://192.168.4.1/ota'\n";
  const bad = await check("ota-bad-headers.yaml", http + "    headers:\n      'Bad Name': x\n      Content-Length: '3'\n      X-Env: '{env:1BAD}'\n");
  assert.equal(bad.map((p) => p.path), ["ota.trigger.headers.Bad Name", "ota.trigger.headers.Content-Length", "ota.trigger.headers.X-Env"]);
  assert.match(bad[1]?.message ?? "", /sets this header itself/);
  assert.match(bad[2]?.message ?? "", /\{env:1BAD\} is not a placeholder; use \{url\}, \{manifest\}, \{version\}, \{env:NAME\}/);
  const inBody = await check("ota-env-body.yaml", http + "    body: '{env:OTA_TOKEN}'\n");
  assert.equal(inBody.map((p) => p.path), ["ota.trigger.body"]);
  assert.match(inBody[0]?.message ?? "", /for header values only/);
  const inCommand = await check("ota-env-command.yaml", ESP32 + "ota:\n  trigger:\n    via: command\n    command: 'ota {url} {env:OTA_TOKEN}'\n");
  assert.equal(inCommand.map((p) => p.path), ["ota.trigger.command"]);
});

test("fillOtaHeaders: placeholders and {env:NAME} filled, a missing or empty variable named and nothing filled", () => {
  const headers = { Authorization: "Bearer {env:TOKEN}", "X-Image": "{url} {env:TOKEN}{env:EXTRA}", "X-Version": "{version}" };
  assert.equal(otaHeaderEnvNames(headers), ["TOKEN", "EXTRA"]);
  assert.equal(otaHeaderEnvNames(undefined), []);
  const values = { url: "http://10.0.0.2/fw.bin", version: "2.0.0" };
  assert.equal(fillOtaHeaders(headers, values, { TOKEN: "t{url}", EXTRA: "!" }), {
    headers: { Authorization: "Bearer t{url}", "X-Image": "http://10.0.0.2/fw.bin t{url}!", "X-Version": "2.0.0" },
  });
  assert.equal(fillOtaHeaders(headers, values, { TOKEN: "", OTHER: "x" }), { missing: ["TOKEN", "EXTRA"] });
});

test("a regex that does not compile, a bad reset token and a bad size are each one problem at their line", async () => {
  const text = ESP32.replace("appStartMarker: app_main", "appStartMarker: 'app_main('").replace("run: D0|R1|W100|R0", "run: D0|R1|X100|R0").replace("size: 2MB", "size: 2 megs");
  const problems = await check("bad-values.yaml", text);
  assert.equal(
    problems.map((p) => [p.line, p.path]),
    [
      [11, "reset.run"],
      [13, "flash.size"],
      [21, "console.appStartMarker"],
    ],
  );
  assert.match(problems[0]?.message ?? "", /token 3 "X100"/);
  assert.match(problems[1]?.message ?? "", /not a size/);
  assert.match(problems[2]?.message ?? "", /regex does not compile/);
});

test("a YAML syntax error becomes FILE:LINE", async () => {
  const problems = await check("syntax.yaml", "id: x\nname: X\nkind: [esp32\nchip: esp32\n");
  assert.ok(problems.length >= 1);
  assert.match(formatProblem(problems[0] as Problem), /syntax\.yaml:\d+: YAML syntax: /);
  assert.ok((problems[0]?.line ?? 0) >= 3, `line ${problems[0]?.line}`);
});

test("duplicate keys, duplicate ids and a shared USB fingerprint across files are problems", async () => {
  const dupKey = await check("dupkey.yaml", ESP32.replace("chip: esp32\n", "chip: esp32\nchip: esp32s3\n"));
  assert.is(dupKey.length, 1);
  assert.is(dupKey[0]?.line, 5);
  const a = join(tmp, "a.yaml");
  const b = join(tmp, "b.yaml");
  await writeFile(a, ESP32);
  await writeFile(b, `name: Other\n${ESP32.replace("name: Tiny\n", "")}`);
  const problems = await checkProfileFiles([a, b]);
  assert.equal(problems.map((p) => [basename(p.file), p.line, p.path]), [["b.yaml", 2, "id"]]);
  assert.match(problems[0]?.message ?? "", /already used by .*a\.yaml/);
  const usbClash = await checkProfileFiles([join(PROFILES_DIR, "esp32-devkitc.yaml"), await writeThen(join(tmp, "clash.yaml"), ESP32.replace("virtual: true\n", 'usb:\n  - {vendorId: "10C4", productId: "ea60"}\n'))]);
  assert.equal(usbClash.map((p) => [basename(p.file), p.line, p.path]), [["clash.yaml", 6, "usb[0]"]]);
  assert.match(usbClash[0]?.message ?? "", /also identifies profile esp32-devkitc/);
});

test("a physical profile needs a USB fingerprint; kind-specific sections stay on their kind", async () => {
  const noUsb = await check("nousb.yaml", ESP32.replace("virtual: true\n", ""));
  assert.equal(noUsb.map((p) => p.path), ["usb"]);
  const mixed = await check("mixed.yaml", "id: phone\nname: Phone\nkind: android\nvirtual: true\nandroid: {adb: true}\nserial: {baud: 1, flashBaud: 1}\n");
  assert.equal(mixed.map((p) => [p.line, p.path]), [[6, "serial"]]);
});

test("an unquoted vendor id that YAML reads as a number is refused with a hint to quote it", async () => {
  const problems = await check("unquoted.yaml", ESP32.replace("virtual: true\n", "usb:\n  - vendorId: 0403\n    productId: \"6001\"\n"));
  assert.equal(problems.map((p) => [p.line, p.path]), [[6, "usb[0].vendorId"]]);
  assert.match(problems[0]?.message ?? "", /expected string, got number 403; quote the value/);
});

test("loadProfileFile throws a PROFILE_INVALID error that lists the problems", async () => {
  const file = join(tmp, "throws.yaml");
  await writeFile(file, ESP32.replace("kind: esp32", "kind: esp33"));
  try {
    await loadProfileFile(file);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.is((err as { code?: string }).code, "PROFILE_INVALID");
    assert.match((err as Error).message, /throws\.yaml:3: kind: /);
  }
});

test("the committed JSON Schema equals a fresh generation (run `npm run schema -w device-profiles`)", async () => {
  const committed = await readFile(join(packageDirOf(import.meta.url), "schema", "device-profile.schema.json"), "utf8");
  assert.is(committed, deviceProfileJsonSchema());
  const json = JSON.parse(committed) as Record<string, { properties: Record<string, { const?: string }>; additionalProperties: unknown }[] | undefined>;
  const branches = json["oneOf"] ?? json["anyOf"] ?? [];
  assert.equal(branches.map((b) => b.properties["kind"]?.const).sort(), ["android", "esp32"], "one branch per kind");
  for (const b of branches) assert.is(b.additionalProperties, false);
  assert.ok("flash" in (branches.find((b) => b.properties["kind"]?.const === "esp32")?.properties ?? {}));
});

async function writeThen(file: string, text: string): Promise<string> {
  await writeFile(file, text);
  return file;
}

test.run();
