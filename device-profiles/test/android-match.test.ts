// The `match` section of an Android profile (which devices the agent's adb discovery registers as it): defaults,
// and each bad field reported at its own line, named.
import { rm, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkProfileFiles, formatProblem, loadProfileFile, loadProfiles, type Problem } from "../src/index.js";

let tmp = "";
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "hil-profiles-match-"));
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const PHONE = "id: phone\nname: Phone\nkind: android\nvirtual: true\n";

async function check(name: string, text: string): Promise<Problem[]> {
  const file = join(tmp, name);
  await writeFile(file, text);
  return checkProfileFiles([file]);
}

test("match is optional (no discovery for that profile); {} matches any device; given fields are kept as written", async () => {
  const none = join(tmp, "none.yaml");
  await writeFile(none, PHONE);
  const p = await loadProfileFile(none);
  assert.ok(p.kind === "android" && p.match === undefined);
  const any = join(tmp, "any.yaml");
  await writeFile(any, `${PHONE}match: {}\n`);
  const q = await loadProfileFile(any);
  assert.ok(q.kind === "android");
  assert.equal(q.match, {});
  const range = join(tmp, "range.yaml");
  await writeFile(range, `${PHONE}match:\n  model: Pixel 8\n  product: shiba\n  device: shiba\n  minSdk: 33\n  maxSdk: 35\n`);
  const r = await loadProfileFile(range);
  assert.ok(r.kind === "android");
  assert.equal(r.match, { model: "Pixel 8", product: "shiba", device: "shiba", minSdk: 33, maxSdk: 35 });
});

test("the shipped android-virtual profile matches the virtual phone's properties", async () => {
  const p = (await loadProfiles()).get("android-virtual");
  assert.ok(p?.kind === "android");
  assert.equal(p.match, { model: "HIL Virtual Phone", product: "hil_phone" });
});

test("a bad match field is one problem at its own line, naming the field", async () => {
  const unknown = await check("unknown.yaml", `${PHONE}match:\n  model: Pixel 8\n  modle: Pixel 9\n`);
  assert.equal(unknown.map((p) => [p.line, p.path]), [[7, "match.modle"]]);
  assert.match(formatProblem(unknown[0]!), /unknown\.yaml:7: match\.modle: unknown field/);
  const sdk = await check("sdk.yaml", `${PHONE}match:\n  minSdk: thirty\n`);
  assert.equal(sdk.map((p) => [p.line, p.path]), [[6, "match.minSdk"]]);
  const empty = await check("empty.yaml", `${PHONE}match:\n  model: ""\n`);
  assert.equal(empty.map((p) => p.path), ["match.model"]);
  const inverted = await check("inverted.yaml", `${PHONE}match:\n  minSdk: 34\n  maxSdk: 30\n`);
  assert.equal(inverted.map((p) => p.path), ["match.maxSdk"]);
  assert.match(inverted[0]?.message ?? "", /maxSdk 30 is below minSdk 34: no device could match/);
  const notMapping = await check("scalar.yaml", `${PHONE}match: Pixel 8\n`);
  assert.equal(notMapping.map((p) => [p.line, p.path]), [[5, "match"]]);
  const onEsp32 = await check("esp32.yaml", "id: board\nname: Board\nkind: esp32\nchip: esp32\nvirtual: true\nmatch: {model: Pixel 8}\n");
  assert.equal(onEsp32.map((p) => [p.line, p.path]), [[6, "match"]], "match belongs to android profiles only");
});

test.run();
