import type { ScenarioEnv, ScenarioRunner } from "../firmware-context.js";
import type { ScenarioSpec } from "../scenario-spec.js";

type LoggerSpec = Extract<ScenarioSpec, { kind: "logger" }>;

/** Periodic `I (ms) app: tick n` lines, as an app with a heartbeat task prints them. */
export function startLogger(spec: LoggerSpec, env: ScenarioEnv): ScenarioRunner {
  let n = 0;
  const tick = () => {
    if (spec.count !== undefined && n >= spec.count) return;
    n++;
    env.log(spec.level, spec.tag, `${spec.message} ${n}`);
  };
  env.timers.every(spec.intervalMs, tick);
  return { input: () => undefined };
}
