import { benchAir, type AirReply } from "../../../air.js";
import type { ScenarioEnv } from "../firmware-context.js";

export interface CompanionSpec {
  servicePrefix: string;
  protocol: number;
}

/**
 * What a companion app talks to (docs/ota.md, "Coupled updates"): the firmware advertises a service on
 * the bench's air and accepts an app whose supported protocol range covers the firmware's protocol. A
 * phone's scripted `talk` test connects to it, so "does app X work with firmware Y" is decided by the
 * two versions, not by the suite.
 */
export function advertiseCompanion(spec: CompanionSpec, env: ScenarioEnv): void {
  const name = `${spec.servicePrefix}${env.mac.replace(/:/g, "").slice(-6).toUpperCase()}`;
  const fw = `firmware ${env.app.version} speaks protocol ${spec.protocol}`;
  env.log("I", "companion", `advertising ${name} (${fw})`);
  const withdraw = benchAir.advertise({
    name,
    handle: (req): AirReply => {
      if (env.timers.isStopped) return { ok: false, message: `${name} stopped advertising` };
      const app = req["app"] ?? "an app";
      const min = Number(req["minProtocol"]);
      const max = Number(req["maxProtocol"]);
      if (!Number.isInteger(min) || !Number.isInteger(max)) return { ok: false, message: `${app} sent no protocol range` };
      if (spec.protocol < min || spec.protocol > max) {
        env.log("W", "companion", `refused ${app}: it speaks protocol ${min}..${max}, this firmware speaks ${spec.protocol}`);
        return { ok: false, message: `${fw}; ${app} speaks ${min}..${max}` };
      }
      env.log("I", "companion", `${app} connected (protocol ${spec.protocol})`);
      return { ok: true, message: fw };
    },
  });
  env.timers.onClear(withdraw);
}
