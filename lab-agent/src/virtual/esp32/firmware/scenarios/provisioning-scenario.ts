import { benchAir, type AirReply } from "../../../air.js";
import type { ScenarioEnv, ScenarioRunner } from "../firmware-context.js";
import type { ScenarioSpec } from "../scenario-spec.js";

type ProvisioningSpec = Extract<ScenarioSpec, { kind: "provisioning" }>;

/**
 * ESP-IDF's provisioning example over BLE: the app advertises `PROV_` and the end of its MAC, takes
 * Wi-Fi credentials from a phone that proves possession (`pop`), prints them as the example does,
 * "connects" and ends the service. A wrong proof is refused the way security1 refuses it.
 */
export function startProvisioning(spec: ProvisioningSpec, env: ScenarioEnv): ScenarioRunner {
  const name = spec.serviceName ?? `PROV_${env.mac.replace(/:/g, "").slice(-6).toUpperCase()}`;
  let done = false;
  env.log("I", "app", "Starting provisioning");
  env.log("I", "network_prov_mgr", `Provisioning started with service name : ${name} `);
  const withdraw = benchAir.advertise({
    name,
    handle: (req): AirReply => {
      if (env.timers.isStopped || done) return { ok: false, message: `${name} is not provisioning any more` };
      if ((req["pop"] ?? "") !== spec.pop) {
        env.log("E", "security1", "Key mismatch. Close connection");
        return { ok: false, message: "the device refused the proof of possession (security1: key mismatch)" };
      }
      const ssid = req["ssid"] ?? "";
      if (!ssid) return { ok: false, message: "no SSID in the credentials" };
      done = true;
      env.log("I", "app", `Received Wi-Fi credentials\n\tSSID     : ${ssid}\n\tPassword : ${req["password"] ?? ""}`);
      env.timers.after(150, () => env.log("I", "app", "Provisioning successful"));
      env.timers.after(400, () => {
        env.log("I", "app", `Connected with IP Address:${spec.ip}`);
        env.log("I", "network_prov_mgr", "Provisioning stopped");
        withdraw();
      });
      return { ok: true, message: `${name} took the credentials for ${ssid}` };
    },
  });
  env.timers.onClear(withdraw);
  return { input: () => undefined };
}
