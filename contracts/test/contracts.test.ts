import { test } from "uvu";
import * as assert from "uvu/assert";
import { labKeys, parseDuration, RunRequestSchema, SuiteSchema, toLabError, LinkClosedError } from "../src/index.js";

test("durations parse to milliseconds and reject nonsense", () => {
  assert.is(parseDuration("500ms"), 500);
  assert.is(parseDuration("10s"), 10_000);
  assert.is(parseDuration("2m"), 120_000);
  assert.is(parseDuration("1.5h"), 5_400_000);
  assert.is(parseDuration(3000), 3000);
  assert.is(parseDuration("ten seconds"), undefined);
  assert.is(parseDuration(-1), undefined);
});

test("parsing a parsed suite changes nothing (durations stay milliseconds)", () => {
  const once = SuiteSchema.parse({
    name: "s",
    roles: { dut: { profile: "p" } },
    timeout: "5m",
    steps: [
      { type: "expect", pattern: "x", timeout: "10s" },
      { type: "expect-not", pattern: "y", duration: "5s" },
      { type: "wait", duration: "250ms" },
    ],
  });
  const twice = SuiteSchema.parse(JSON.parse(JSON.stringify(once)));
  assert.equal(twice, once);
  assert.is(once.timeout, 300_000);
  assert.equal(
    once.steps.map((s) => ("duration" in s ? s.duration : s.timeout)),
    [10_000, 5000, 250],
  );
});

test("every key of a lab shares one hash tag", () => {
  const k = labKeys("lab1");
  for (const key of [k.board("b1"), k.lease("b1"), k.run("r1"), k.pending(), k.boardLog("b1"), k.booking("x")]) {
    assert.ok(key.startsWith("{lab1}:"), key);
  }
  assert.is(k.bullPrefix, "{lab1}");
  assert.throws(() => labKeys("a b"), /namespace/);
});

test("a suite step naming an unknown role or artifact is rejected at that step", () => {
  const r = SuiteSchema.safeParse({
    name: "s",
    roles: { dut: { profile: "esp32-virtual" } },
    artifacts: { app: { kind: "esp32-app" } },
    steps: [
      { type: "flash", images: [{ artifact: "firmware" }] },
      { type: "expect", role: "phone", pattern: "ready" },
    ],
  });
  assert.is(r.success, false);
  const paths = r.error!.issues.map((i) => i.path.join("."));
  assert.ok(paths.includes("steps.0.images"), paths.join());
  assert.ok(paths.includes("steps.1.role"), paths.join());
});

test("a regex that does not compile is named", () => {
  const r = SuiteSchema.safeParse({
    name: "s",
    roles: { dut: { profile: "p" } },
    steps: [{ type: "expect", pattern: "([a-" }],
  });
  assert.is(r.success, false);
  assert.match(r.error!.issues[0]!.message, /regex does not compile/);
  assert.equal(r.error!.issues[0]!.path, ["steps", 0, "pattern"]);
});

test("a run request defaults priority and attempts and rejects unknown fields", () => {
  const ok = RunRequestSchema.parse({ suite: "esp32-smoke", profile: "esp32-virtual" });
  assert.is(ok.priority, 50);
  assert.is(ok.maxAttempts, 3);
  const bad = RunRequestSchema.safeParse({ suite: "x", priorty: 3 });
  assert.is(bad.success, false);
});

test("errors keep their code across a JSON round trip", () => {
  const wire = JSON.parse(JSON.stringify(new LinkClosedError("link closed during flash")));
  const back = toLabError(wire);
  assert.is(back.code, "LINK_CLOSED");
  assert.is(back.infra, true);
  assert.is(back.message, "link closed during flash");
});

test.run();
