// The Unity dialogue parser fed recorded ESP-IDF output (CRLF already split off by the console).
import { test } from "uvu";
import * as assert from "uvu/assert";
import { stripAnsi } from "../src/console/ansi.js";
import { parseUnityLine, selectCases, type UnityMenuEntry } from "../src/runner/unity/unity-protocol.js";

const MENU_TEXT = [
  "Here's the test menu, pick your combo:",
  '(1)\t"can read and write NVS" [nvs][timeout=30]',
  '(2)\t"mutex is recursive" [freertos]',
  '(3)\t"multi stage reboot" [reset][multi_stage]',
  '\t(1)\t"stage one"',
  '\t(2)\t"stage two"',
  '(4)\t"no tags at all" ',
  "",
  "Enter test for running.",
];

test("menu lines: index, name, group from the first tag; sub-stages and prompts are not cases", () => {
  const entries = MENU_TEXT.map(parseUnityLine).flatMap((l) => (l.kind === "menu-entry" ? [l.entry] : []));
  assert.equal(
    entries.map((e) => [e.index, e.name, e.group ?? null]),
    [
      [1, "can read and write NVS", "nvs"],
      [2, "mutex is recursive", "freertos"],
      [3, "multi stage reboot", "reset"],
      [4, "no tags at all", null],
    ],
  );
  assert.equal(entries[0]!.tags, ["nvs", "timeout=30"]);
});

test("result lines: PASS, FAIL with message, IGNORE; colour codes stripped first; absolute paths with colons", () => {
  const pass = parseUnityLine(stripAnsi("/home/ci/idf/components/nvs/test/test_nvs.c:104:can read and write NVS:\x1b[42mPASS\x1b[0m"));
  assert.equal(pass, { kind: "result", file: "/home/ci/idf/components/nvs/test/test_nvs.c", line: 104, name: "can read and write NVS", result: "PASS" });
  const fail = parseUnityLine("main/test_math.c:20:divides: by zero:FAIL: Expected 2 Was 1. Function [math]");
  assert.ok(fail.kind === "result");
  assert.is(fail.result, "FAIL");
  assert.is(fail.name, "divides: by zero");
  assert.is(fail.message, "Expected 2 Was 1. Function [math]");
  const ignore = parseUnityLine("main/test_x.c:7:later:IGNORE");
  assert.ok(ignore.kind === "result" && ignore.result === "IGNORE" && ignore.message === undefined);
});

test("summary, verdict, timing and running lines; ordinary log lines are other", () => {
  assert.equal(parseUnityLine("3 Tests 1 Failures 0 Ignored "), { kind: "summary", tests: 3, failures: 1, ignored: 0 });
  assert.equal(parseUnityLine("FAIL"), { kind: "verdict", ok: false });
  assert.equal(parseUnityLine("OK"), { kind: "verdict", ok: true });
  assert.equal(parseUnityLine("Test ran in 15ms"), { kind: "ran-in", ms: 15 });
  assert.equal(parseUnityLine("Running mutex is recursive..."), { kind: "running", name: "mutex is recursive" });
  assert.is(parseUnityLine("I (310) main_task: Calling app_main()").kind, "other");
  assert.is(parseUnityLine("-----------------------").kind, "other");
});

test("case selection by number, exact name, * or nothing; unknown ones reported", () => {
  const menu: UnityMenuEntry[] = [
    { index: 1, name: "a", tags: [] },
    { index: 2, name: "b", tags: [] },
    { index: 3, name: "c", tags: [] },
  ];
  assert.equal(selectCases(menu, undefined).entries.map((e) => e.index), [1, 2, 3]);
  assert.equal(selectCases(menu, ["*"]).entries.map((e) => e.index), [1, 2, 3]);
  const picked = selectCases(menu, [3, "a", "zzz", 9]);
  assert.equal(picked.entries.map((e) => e.name), ["c", "a"]);
  assert.equal(picked.missing, ["zzz", 9]);
});

test.run();
