import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { STEP_TYPES, SuiteSchema } from "@hil/contracts";
import { DeviceProfileSchema, formatProblem, loadProfiles, packageDirOf, yamlFilesIn, type DeviceProfile, type Problem } from "@hil/device-profiles";
import {
  checkRoleProfile,
  checkSuiteFiles,
  checkSuiteProfiles,
  findSuite,
  loadSuiteFile,
  loadSuites,
  STEP_CAPABILITY,
  SUITES_DIR,
  testSuiteJsonSchema,
} from "../src/index.js";

const SHIPPED = ["android-ab-update", "android-health", "android-instrumentation", "coupled-app-firmware-update", "esp32-console", "esp32-health", "esp32-ota", "esp32-ota-bad-image", "esp32-ota-happy", "esp32-ota-interrupted", "esp32-ota-rollback", "esp32-ota-unsigned", "esp32-smoke", "esp32-unity", "provision-esp32-from-android"];

let tmp = "";
let profiles = new Map<string, DeviceProfile>();
test.before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "hil-suites-"));
  profiles = await loadProfiles();
});
test.after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function check(name: string, text: string): Promise<Problem[]> {
  const file = join(tmp, name);
  await writeFile(file, text);
  return checkSuiteFiles([file], { profiles });
}

const TWO_BOARDS = `name: two
roles:
  dut: { profile: esp32-devkitc }
  phone: { profile: android-generic }
artifacts:
  app: { kind: esp32-app }
  apk: { kind: apk }
steps:
  - type: flash
    images: [{ artifact: app }]
  - type: expect
    pattern: 'ready'
    timeout: 10s
  - type: android.install
    role: phone
    artifact: apk
`;

test("every shipped suite is valid, with a JSON Schema modeline", async () => {
  const files = await yamlFilesIn(SUITES_DIR);
  // files sort by file name ("esp32-ota-happy.yaml" before "esp32-ota.yaml"), suites by name
  assert.equal(files.map((f) => basename(f, ".yaml")).sort(), SHIPPED);
  assert.equal((await checkSuiteFiles(files)).map(formatProblem), []);
  for (const f of files) {
    assert.match(await readFile(f, "utf8"), /^# yaml-language-server: \$schema=\.\.\/schema\/test-suite\.schema\.json\n/, f);
  }
  const suites = await loadSuites();
  assert.equal([...suites.keys()].sort(), SHIPPED);
  const smoke = await findSuite("esp32-smoke");
  assert.ok(smoke);
  assert.is(smoke.roles.dut?.profile, "esp32-devkitc");
  assert.equal(smoke.steps.map((s) => s.type), ["flash", "reset", "expect", "expect", "expect", "expect-not"]);
  assert.equal(suites.get("esp32-console")?.steps.map((s) => s.type), ["flash", "reset", "expect", "expect-not", "send", "expect"]);
  assert.is(await findSuite("no-such-suite"), undefined);
  const two = suites.get("provision-esp32-from-android");
  assert.equal(Object.keys(two?.roles ?? {}).sort(), ["dut", "phone"]);
});

test("every shipped suite also fits every other shipped profile of the same kind (runs may override profiles)", async () => {
  const suites = await loadSuites();
  let pairs = 0;
  for (const suite of suites.values()) {
    for (const [role, spec] of Object.entries(suite.roles)) {
      const kind = profiles.get(spec.profile)?.kind;
      for (const p of profiles.values()) {
        if (p.kind !== kind) continue;
        assert.equal(checkRoleProfile(suite, role, p), [], `${suite.name} role ${role} on ${p.id}`);
        pairs++;
      }
    }
  }
  assert.ok(pairs >= 12, `checked ${pairs} pairs`);
});

test("a suite does not fit a profile of the other kind; the problem names the step and the capability", async () => {
  const smoke = await findSuite("esp32-smoke");
  assert.ok(smoke);
  const fit = checkSuiteProfiles(smoke, profiles, { dut: "android-virtual" });
  assert.ok(fit.length > 0);
  assert.equal(fit[0]?.path, ["steps", 0, "type"]);
  assert.match(fit[0]?.message ?? "", /flash needs capability "flash", which profile android-virtual \(role dut\) does not have/);
  assert.equal(checkSuiteProfiles(smoke, profiles, { dut: "esp32-virtual" }), []);
  assert.match(checkSuiteProfiles(smoke, profiles, { dut: "esp32-nope" })[0]?.message ?? "", /no device profile "esp32-nope"/);
});

test("every step type has a capability decision", () => {
  assert.equal(Object.keys(STEP_CAPABILITY).sort(), [...STEP_TYPES].sort());
});

test("a two-board suite with roles, artifacts and durations is valid", async () => {
  assert.equal((await check("two.yaml", TWO_BOARDS)).map(formatProblem), []);
  const suite = await loadSuiteFile(join(tmp, "two.yaml"), { profiles });
  const expect = suite.steps[1];
  assert.is(expect?.type === "expect" ? expect.timeout : undefined, 10_000);
  assert.is(suite.timeout, 600_000);
});

test("a step naming a role the suite does not have is reported at the role's line", async () => {
  const problems = await check("role.yaml", TWO_BOARDS.replace("role: phone", "role: tablet"));
  assert.equal(problems.map((p) => [p.line, p.path]), [[15, "steps[2].role"]]);
  assert.match(problems[0]?.message ?? "", /role "tablet" is not one of this suite's roles \(dut, phone\)/);
});

test("a regex that does not compile is reported at its line", async () => {
  const problems = await check("regex.yaml", TWO_BOARDS.replace("pattern: 'ready'", "pattern: 'ready ([0-9]+'"));
  assert.equal(problems.map((p) => [p.line, p.path]), [[12, "steps[1].pattern"]]);
  assert.match(problems[0]?.message ?? "", /regex does not compile/);
});

test("an unknown profile, an undeclared artifact and a step on the wrong kind of board", async () => {
  const unknownProfile = await check("profile.yaml", TWO_BOARDS.replace("profile: android-generic", "profile: android-genric"));
  assert.equal(unknownProfile.map((p) => [p.line, p.path]), [[4, "roles.phone.profile"]]);
  assert.match(unknownProfile[0]?.message ?? "", /no device profile "android-genric" \(known: android-generic, /);

  const undeclared = await check("artifact.yaml", TWO_BOARDS.replace("artifact: apk", "artifact: apk2"));
  assert.equal(undeclared.map((p) => [p.line, p.path]), [[16, "steps[2].artifact"]]);

  const wrongKind = await check("kind.yaml", TWO_BOARDS.replace("role: phone", "role: dut"));
  assert.equal(wrongKind.map((p) => [p.line, p.path]), [[14, "steps[2].type"]]);
  assert.match(wrongKind[0]?.message ?? "", /android\.install needs capability "install"/);
});

test("an unknown step type and an unknown step field are named with their lines", async () => {
  const badType = await check("type.yaml", TWO_BOARDS.replace("type: expect", "type: expcet"));
  assert.equal(badType.map((p) => [p.line, p.path]), [[11, "steps[1].type"]]);
  assert.match(badType[0]?.message ?? "", /must be one of flash, reset, expect/);
  const badField = await check("field.yaml", TWO_BOARDS.replace("    timeout: 10s", "    timout: 10s"));
  assert.equal(badField.map((p) => [p.line, p.path, p.message]), [[13, "steps[1].timout", "unknown field (did you mean timeout?)"]]);
});

test("an artifact of the wrong kind for its step is a problem at the artifact's line", async () => {
  const problems = await check("kinds.yaml", TWO_BOARDS.replace("images: [{ artifact: app }]", "images: [{ artifact: apk }]"));
  assert.equal(problems.map((p) => [p.line, p.path]), [[10, "steps[0].images[0].artifact"]]);
  assert.match(problems[0]?.message ?? "", /flash cannot take artifact "apk" of kind apk/);
});

test("a flash image that is not an esp32-app needs an explicit offset", async () => {
  const text = TWO_BOARDS.replace("app: { kind: esp32-app }", "app: { kind: esp32-app }\n  boot: { kind: esp32-bin }").replace(
    "images: [{ artifact: app }]",
    "images: [{ artifact: app }, { artifact: boot }]",
  );
  const problems = await check("nooffset.yaml", text);
  assert.equal(problems.map((p) => [p.line, p.path]), [[11, "steps[0].images[1]"]]);
  assert.match(problems[0]?.message ?? "", /needs an offset/);
  assert.equal(await check("withoffset.yaml", text.replace("{ artifact: boot }", "{ artifact: boot, offset: 0x1000 }")), []);
});

test("an ESP-IDF build takes its offsets from its flasher_args.json: no offset needed, and one given is a problem", async () => {
  const text = TWO_BOARDS.replace("app: { kind: esp32-app }", "app: { kind: esp-idf-build }");
  assert.equal(await check("build.yaml", text), []);
  const problems = await check("build-offset.yaml", text.replace("{ artifact: app }", "{ artifact: app, offset: 0x10000 }"));
  assert.equal(problems.map((p) => p.path), ["steps[0].images[0].offset"]);
  assert.match(problems[0]?.message ?? "", /offsets come from its flasher_args\.json/);
});

test("a number where text is expected gets a hint to quote it", async () => {
  const problems = await check("number.yaml", TWO_BOARDS.replace("text: hello", "").replace("pattern: 'ready'", "pattern: 7523"));
  assert.equal(problems.map((p) => [p.line, p.path]), [[12, "steps[1].pattern"]]);
  assert.match(problems[0]?.message ?? "", /expected string, got number 7523; quote the value/);
});

test("a flash offset past the end of the profile's flash is a problem", async () => {
  const problems = await check("offset.yaml", TWO_BOARDS.replace("images: [{ artifact: app }]", "images: [{ artifact: app, offset: 0x800000 }]"));
  assert.equal(problems.map((p) => [p.line, p.path]), [[10, "steps[0].images[0].offset"]]);
  assert.match(problems[0]?.message ?? "", /past the end of esp32-devkitc's 4 MB flash/);
});

test("YAML syntax errors and duplicate suite names across files", async () => {
  const syntax = await check("syntax.yaml", "name: s\nroles:\n  dut: { profile: esp32-devkitc\nsteps: []\n");
  assert.ok(syntax.length >= 1);
  assert.match(formatProblem(syntax[0] as Problem), /syntax\.yaml:\d+: YAML syntax: /);
  const a = join(tmp, "a.yaml");
  const b = join(tmp, "b.yaml");
  await writeFile(a, TWO_BOARDS);
  await writeFile(b, `# a copy\n${TWO_BOARDS}`);
  const dup = await checkSuiteFiles([a, b], { profiles });
  assert.equal(dup.map((p) => [basename(p.file), p.line, p.path]), [["b.yaml", 2, "name"]]);
});

test("OTA steps: ${…} must be published by an earlier ota.serve, and ota.trigger must watch one; both named at their lines", async () => {
  const ota = `name: ota
roles:
  dut: { profile: esp32-virtual }
artifacts:
  v2: { kind: esp32-app }
steps:
  - type: ota.trigger
    server: v2
  - type: ota.serve
    artifact: v2
    as: v2
  - type: ota.trigger
    server: v2
    command: 'ota \${v2.url}'
  - type: expect-boot
    version: '\${v2.vers}'
  - type: expect-rollback
    version: '\${v3.version}'
`;
  const problems = await check("ota.yaml", ota);
  assert.equal(problems.map((p) => [p.line, p.path]), [
    [8, "steps[0].server"],
    [16, "steps[3].version"],
    [18, "steps[4].version"],
  ]);
  assert.match(problems[0]?.message ?? "", /no earlier ota\.serve has as: v2; add one before this step/);
  assert.match(problems[1]?.message ?? "", /\$\{v2\.vers\} is not set by an earlier step: ota\.serve as: v2 publishes v2\.url, v2\.manifest, v2\.version/);
  assert.match(problems[2]?.message ?? "", /\$\{v3\.version\} is not set by an earlier step: no earlier ota\.serve has as: v3/);
  assert.equal(await check("ota-ok.yaml", ota.replace("  - type: ota.trigger\n    server: v2\n  - type: ota.serve", "  - type: ota.serve").replace("v2.vers}", "v2.version}").replace("v3.version", "v2.version")), []);
});

test("android.instrument expectFailures: each entry names a test as class#method and gives a reason", async () => {
  const text = `${TWO_BOARDS}  - type: android.instrument
    role: phone
    runner: com.example.app.test/androidx.test.runner.AndroidJUnitRunner
    expectFailures:
      - test: talksToBoard
        reason: protocol 1 only
      - test: com.example.LinkTest#readsVersion
`;
  const problems = await check("expect-failures.yaml", text);
  assert.equal(problems.map((p) => [p.line, p.path]), [
    [21, "steps[3].expectFailures[0].test"],
    [23, "steps[3].expectFailures[1].reason"],
  ]);
  assert.match(problems[0]?.message ?? "", /a test as <class>#<method>/);
  assert.equal(await check("expect-failures-ok.yaml", text.replace("test: talksToBoard", "test: com.example.LinkTest#talksToBoard").replace("#readsVersion\n", "#readsVersion\n        reason: not in 1.x\n")), []);
});

test("a profile whose device polls a fixed manifest URL needs the suite's ota.serve there; a step's own command needs nothing", async () => {
  const polls = DeviceProfileSchema.parse({ id: "polls", name: "Polls", kind: "esp32", chip: "esp32", virtual: true, ota: { trigger: { via: "poll", manifestUrl: "http://10.0.0.2:8070/manifest.json" } } });
  const happy = await findSuite("esp32-ota-happy");
  assert.ok(happy);
  const trigger = happy.steps.findIndex((s) => s.type === "ota.trigger");
  const serve = happy.steps.findIndex((s) => s.type === "ota.serve" && s.as === "v2");
  const problems = checkRoleProfile(happy, "dut", polls);
  assert.equal(problems.map((p) => p.path), [["steps", trigger]]);
  assert.is(problems[0]?.message, `profile polls (role dut) polls http://10.0.0.2:8070/manifest.json for updates; the ota.serve as: v2 (steps[${serve}]) must serve there: give it host: 10.0.0.2 and port: 8070`);
  const there = SuiteSchema.parse({ ...happy, steps: happy.steps.map((s) => (s.type === "ota.serve" && s.as === "v2" ? { ...s, host: "10.0.0.2", port: 8070 } : s)) });
  assert.equal(checkRoleProfile(there, "dut", polls), []);
  assert.equal(checkRoleProfile((await findSuite("esp32-ota"))!, "dut", polls), [], "esp32-ota types its own commands");
});

test("loadSuiteFile throws SUITE_INVALID with every problem", async () => {
  const file = join(tmp, "throws.yaml");
  await writeFile(file, TWO_BOARDS.replace("role: phone", "role: tablet"));
  try {
    await loadSuiteFile(file, { profiles });
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.is((err as { code?: string }).code, "SUITE_INVALID");
    assert.match((err as Error).message, /throws\.yaml:15: steps\[2\]\.role: /);
  }
});

test("the committed JSON Schema equals a fresh generation (run `npm run schema -w test-suites`)", async () => {
  const committed = await readFile(join(packageDirOf(import.meta.url), "schema", "test-suite.schema.json"), "utf8");
  assert.is(committed, testSuiteJsonSchema());
  assert.match(committed, /"android\.instrument"/);
});

test.run();
