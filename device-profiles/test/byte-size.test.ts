import { test } from "uvu";
import * as assert from "uvu/assert";
import { ByteSizeSchema, OffsetSchema, parseByteSize, parseOffset } from "../src/index.js";

test("sizes use binary units the way esptool does", () => {
  assert.is(parseByteSize("4MB"), 4 * 1024 * 1024);
  assert.is(parseByteSize("2MiB"), 2 * 1024 * 1024);
  assert.is(parseByteSize("512KB"), 512 * 1024);
  assert.is(parseByteSize("16 mb"), 16 * 1024 * 1024);
  assert.is(parseByteSize("4096"), 4096);
  assert.is(parseByteSize(8192), 8192);
});

test("nonsense sizes are refused", () => {
  for (const bad of ["4GBx", "MB", "-4MB", "0", "4.5MB", "four"]) assert.is(parseByteSize(bad), undefined, bad);
  assert.is(parseByteSize(0), undefined);
  assert.is(parseByteSize(1.5), undefined);
  const r = ByteSizeSchema.safeParse("4TBx");
  assert.not.ok(r.success);
  assert.match(r.error?.issues[0]?.message ?? "", /not a size; write e\.g\. 4MB/);
});

test("offsets accept hex strings, decimal strings and numbers", () => {
  assert.is(parseOffset("0x1000"), 0x1000);
  assert.is(parseOffset("0X10000"), 0x10000);
  assert.is(parseOffset("32768"), 0x8000);
  assert.is(parseOffset(0), 0);
  assert.is(parseOffset("0x"), undefined);
  assert.is(parseOffset("1000h"), undefined);
  assert.is(parseOffset(-1), undefined);
  assert.equal(OffsetSchema.parse("0x8000"), 0x8000);
});

test.run();
