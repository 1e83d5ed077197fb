import { test } from "uvu";
import * as assert from "uvu/assert";
import { DeviceProfileSchema, type DeviceProfile } from "@hil/device-profiles";
import { androidPropertiesFrom, matchAndroidProfile, parseGetprop, type AndroidProperties } from "./android-match.js";

const phone = (id: string, match?: Record<string, unknown>): DeviceProfile =>
  DeviceProfileSchema.parse({ id, name: id, kind: "android", virtual: true, ...(match ? { match } : {}) });

const PROFILES = [
  phone("any-android", {}),
  phone("pixel-8", { model: "Pixel 8" }),
  phone("pixel-8-new", { model: "Pixel 8", minSdk: 34 }),
  phone("old-phones", { maxSdk: 28 }),
  phone("no-discovery"),
  DeviceProfileSchema.parse({ id: "esp", name: "esp", kind: "esp32", chip: "esp32", virtual: true }),
];

const props = (over: Partial<AndroidProperties>): AndroidProperties => ({ serialno: "S1", model: "Pixel 8", product: "shiba", device: "shiba", sdk: 34, ...over });

test("getprop output: [key]: [value] lines, values with brackets and empty ones, CRLF and junk skipped", () => {
  const map = parseGetprop("[ro.product.model]: [Pixel 8]\r\n[ro.serialno]: []\nnot a property\n[x.y]: [a [b] c]\n");
  assert.is(map.get("ro.product.model"), "Pixel 8");
  assert.is(map.get("ro.serialno"), "");
  assert.is(map.get("x.y"), "a [b] c");
  assert.is(map.size, 3);
  const p = androidPropertiesFrom(new Map([["ro.product.model", "M"], ["ro.build.version.sdk", "thirty"]]));
  assert.equal(p, { serialno: "", model: "M", product: "", device: "", sdk: undefined });
});

test("the most specific fitting profile wins; the others that fit are named", () => {
  const m = matchAndroidProfile(props({}), PROFILES);
  assert.is(m.profile?.id, "pixel-8-new");
  assert.ok(m.profile && "alsoMatches" in m);
  assert.equal(m.alsoMatches, ["pixel-8", "any-android"]);
  assert.is(matchAndroidProfile(props({ sdk: 33 }), PROFILES).profile?.id, "pixel-8");
  assert.is(matchAndroidProfile(props({ model: "Moto G", sdk: 27 }), PROFILES).profile?.id, "old-phones");
  assert.is(matchAndroidProfile(props({ model: "Moto G", sdk: undefined }), PROFILES).profile?.id, "any-android", "an unknown SDK fits no SDK bound");
});

test("no fitting profile: the reason names the device's properties and the profiles tried; profiles without match are never chosen", () => {
  const m = matchAndroidProfile(props({ model: "Moto G", sdk: 30 }), PROFILES.filter((p) => p.id !== "any-android"));
  assert.is(m.profile, undefined);
  assert.ok(!m.profile && "reason" in m);
  assert.match(m.reason, /model "Moto G", product "shiba", device "shiba", SDK 30 fits no Android profile \(the match sections of old-phones, pixel-8, pixel-8-new\)/);
  const none = matchAndroidProfile(props({}), [phone("no-discovery")]);
  assert.ok(!none.profile && "reason" in none);
  assert.match(none.reason, /no Android profile has a match section/);
});

test.run();
