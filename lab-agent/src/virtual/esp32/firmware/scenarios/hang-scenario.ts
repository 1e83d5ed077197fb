import type { ScenarioEnv, ScenarioRunner } from "../firmware-context.js";
import type { ScenarioSpec } from "../scenario-spec.js";

type HangSpec = Extract<ScenarioSpec, { kind: "hang" }>;

/**
 * The app stops yielding: IDLE0 no longer feeds the task watchdog, so every period the watchdog
 * prints its report (the default configuration only reports; it does not reset).
 */
export function startHang(spec: HangSpec, env: ScenarioEnv): ScenarioRunner {
  env.timers.after(spec.afterMs, () => {
    env.log("I", "app", "entering busy loop");
    env.timers.every(spec.watchdogMs, () => {
      env.log("E", "task_wdt", "Task watchdog got triggered. The following tasks did not reset the watchdog in time:");
      env.log("E", "task_wdt", " - IDLE0 (CPU 0)");
      env.log("E", "task_wdt", "Tasks currently running:");
      env.log("E", "task_wdt", `CPU 0: ${spec.task}`);
      env.log("E", "task_wdt", "CPU 1: IDLE1");
      env.log("E", "task_wdt", "Print CPU 0 (current core) backtrace");
    });
  });
  // A hung app reads nothing.
  return { input: () => undefined };
}
