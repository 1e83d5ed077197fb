import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseAbState } from "./fastboot-slots.js";

const ALL = [
  "(bootloader) version:0.4",
  "(bootloader) current-slot:_b",
  "(bootloader) slot-count:2",
  "(bootloader) slot-successful:a:yes",
  "(bootloader) slot-unbootable:a:no",
  "(bootloader) slot-retry-count:a:0",
  "(bootloader) slot-successful:b:no",
  "(bootloader) slot-unbootable:b:yes",
  "(bootloader) slot-retry-count:b:0",
  "(bootloader) has-slot:boot:yes",
  "all: Done!!",
  "Finished. Total time: 0.002s",
].join("\n");

test("getvar all: current slot (an _b answer too) and each slot's metadata", () => {
  assert.equal(parseAbState(ALL, "tcp:x"), {
    current: "b",
    slotCount: 2,
    slots: { a: { successful: true, unbootable: false, retryCount: 0 }, b: { successful: false, unbootable: true, retryCount: 0 } },
  });
});

test("a bootloader without retry counts reports null for them", () => {
  const s = parseAbState(ALL.replace(/.*slot-retry-count.*\n/g, ""), "tcp:x");
  assert.is(s.slots.a.retryCount, null);
});

test("no slots, or garbage: STEP_UNSUPPORTED naming what the bootloader said", () => {
  for (const text of ["(bootloader) slot-count:1\n(bootloader) current-slot:\n", "garbage\n\u0000\u00ff", ""]) {
    try {
      parseAbState(text, "tcp:127.0.0.1:1");
      assert.unreachable("must throw");
    } catch (err) {
      assert.is((err as { code?: string }).code, "STEP_UNSUPPORTED");
      assert.match((err as Error).message, /tcp:127\.0\.0\.1:1's bootloader reports slot-count ".*": it is not an A\/B device/);
    }
  }
});

test.run();
