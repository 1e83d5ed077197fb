// The agent's per-kind step executors against the board-kind registry: the ESP32 driver implements
// every step its kind's capabilities declare and nothing else; the Android steps it does not have yet
// are listed here by name, so the gap is explicit and shrinks as the Android driver lands.
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Step, StepType } from "@hil/contracts";
import { BOARD_KIND_NAMES, capabilitiesOf, stepTypesFor } from "@hil/device-profiles";
import type { BoardTarget } from "../src/runner/board-target.js";
import { BOARDLESS_STEP_TYPES, KIND_STEPS, planStep } from "../src/runner/kind-drivers.js";

/** Steps the registry declares for Android that this agent cannot run yet (none since the Android driver). */
const ANDROID_PENDING: StepType[] = [];

// Boardless steps (wait, ota.serve) run on the agent for any kind, so no kind's driver lists them.
const declared = (kind: (typeof BOARD_KIND_NAMES)[number]): StepType[] => stepTypesFor(capabilitiesOf(kind)).filter((t) => !BOARDLESS_STEP_TYPES.includes(t)).sort();

test("the ESP32 driver runs exactly the steps its kind declares", () => {
  assert.equal(Object.keys(KIND_STEPS.esp32).sort(), declared("esp32"));
});

test("every kind's executors are within what the kind declares; Android's missing ones are exactly the listed gap", () => {
  for (const kind of BOARD_KIND_NAMES) {
    const have = Object.keys(KIND_STEPS[kind]) as StepType[];
    for (const t of have) assert.ok(declared(kind).includes(t), `${kind} runs ${t}, which its capabilities do not declare`);
  }
  const missing = declared("android").filter((t) => !(t in KIND_STEPS.android));
  assert.equal(missing, [...ANDROID_PENDING].sort());
});

function target(kind: "esp32" | "android", capabilities: string[]): BoardTarget {
  return { boardId: `${kind}-1`, kind, capabilities, console: undefined as never, close: async () => {} };
}

test("a step runs only on a board whose kind provides it and whose profile lists its capability", () => {
  const unity: Step = { type: "unity", role: "dut" };
  const wait: Step = { type: "wait", duration: 10 };
  const install: Step = { type: "android.install", role: "dut", artifact: "app", replace: true };
  assert.ok("executor" in planStep(unity, target("esp32", ["flash", "reset", "console", "unity"])));
  const noUnity = planStep(unity, target("esp32", ["flash", "reset", "console"]));
  assert.ok("problem" in noUnity && /needs capability "unity", which board esp32-1's profile does not list/.test(noUnity.problem));
  const wrongKind = planStep(install, target("esp32", ["flash"]));
  assert.ok("problem" in wrongKind && /not supported on esp32 board/.test(wrongKind.problem));
  assert.ok("executor" in planStep(wait, undefined), "wait needs no board");
  assert.ok("problem" in planStep(unity, undefined));
});

test.run();
