import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildEsp32Image } from "../../esp32-image/image-writer.js";
import { buildPartitionTable, SINGLE_APP_TABLE } from "../../esp32-image/partition-table.js";
import { defaultOffset, parseImageArg } from "./image-args.js";
import { imageProblems, resolveKind } from "./image-checks.js";

const TARGET = { chip: "esp32" as const, flashSize: 4 * 1024 * 1024, bootloaderOffset: 0x1000, appOffset: 0x10000 };

test("kind: 0xE9 images and anything at the app offset are apps; a table is raw; a merged image is merged", () => {
  const app = buildEsp32Image();
  assert.is(resolveKind({ data: app, offset: 0x10000 }, TARGET), "app");
  assert.is(resolveKind({ data: new Uint8Array(16), offset: 0x10000 }, TARGET), "app");
  assert.is(resolveKind({ data: buildPartitionTable(SINGLE_APP_TABLE), offset: 0x8000 }, TARGET), "raw");
  assert.is(resolveKind({ data: new Uint8Array(0x20000), offset: 0x1000 }, TARGET), "merged");
  assert.is(resolveKind({ data: app, offset: 0x10000, kind: "raw" }, TARGET), "raw");
});

test("problems are named per image; overlaps are refused; good images pass", () => {
  const app = buildEsp32Image({ padTo: 0x10000 });
  assert.equal(imageProblems([{ data: app, offset: 0x10000 }], TARGET), []);
  const overlap = imageProblems(
    [
      { data: app, offset: 0x10000, name: "a" },
      { data: new Uint8Array(0x1000), offset: 0x1f000, name: "b", kind: "raw" },
    ],
    TARGET,
  );
  assert.ok(overlap.some((p) => /b overlaps a/.test(p)), overlap.join("\n"));
  const s3 = imageProblems([{ data: buildEsp32Image({ chip: "esp32s3" }), offset: 0x10000, name: "s3.bin" }], TARGET);
  assert.ok(s3.some((p) => p.startsWith("s3.bin:") && /ESP32-S3/.test(p)), s3.join("\n"));
});

test("a merged image's embedded app is checked at the app offset", () => {
  const merged = new Uint8Array(0x20000).fill(0xff);
  const s3app = buildEsp32Image({ chip: "esp32s3" });
  merged.set(s3app, 0x10000 - 0x1000);
  const problems = imageProblems([{ data: merged, offset: 0x1000 }], TARGET);
  assert.ok(problems.some((p) => /embedded image at 0x10000/.test(p) && /ESP32-S3/.test(p)), problems.join("\n"));
});

test("IMAGE@OFFSET parsing and the default offset of app images", () => {
  assert.equal(parseImageArg("build/app.bin@0x10000"), { path: "build/app.bin", offset: 0x10000 });
  assert.equal(parseImageArg("a@b.bin@4096"), { path: "a@b.bin", offset: 4096 });
  assert.equal(parseImageArg("app.bin"), { path: "app.bin" });
  assert.throws(() => parseImageArg("app.bin@0xZZ"), /not a flash offset/);
  assert.is(defaultOffset(buildEsp32Image(), 0x10000), 0x10000);
  assert.is(defaultOffset(buildEsp32Image({ appDesc: null }), 0x10000), undefined, "a bootloader-like image has no default");
  assert.is(defaultOffset(new Uint8Array(64), 0x10000), undefined);
});

test.run();
