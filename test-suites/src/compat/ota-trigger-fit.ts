import type { Suite } from "@hil/contracts";
import type { DeviceProfile } from "@hil/device-profiles";
import type { FitProblem } from "./fit-problem.js";

/**
 * A device that polls a fixed manifest URL (its profile's `ota.trigger: {via: poll, manifestUrl}`) only finds
 * an update served exactly there. An `ota.trigger` that leaves the trigger to such a profile must watch an
 * `ota.serve` with that host and port (the server's manifest is always `/manifest.json`): refused when the
 * suite is checked against the profile, not after the device waited out the step's timeout.
 */
export function checkOtaTriggerFit(suite: Suite, role: string, profile: DeviceProfile): FitProblem[] {
  if (profile.kind !== "esp32" || profile.ota?.trigger.via !== "poll" || profile.ota.trigger.manifestUrl === undefined) return [];
  const want = new URL(profile.ota.trigger.manifestUrl);
  const problems: FitProblem[] = [];
  const servers = new Map<string, { host: string; port: number; index: number }>();
  suite.steps.forEach((step, i) => {
    if (step.type === "ota.serve") servers.set(step.as, { host: step.host, port: step.port, index: i });
    if (step.type !== "ota.trigger" || step.role !== role || step.command !== undefined || step.via !== undefined) return;
    const server = servers.get(step.server);
    if (!server) return; // checkStepVars reports a trigger without a server
    const host = server.host.includes(":") ? `[${server.host}]` : server.host;
    if (new URL(`http://${host}:${server.port}/manifest.json`).href === want.href) return;
    problems.push({
      path: ["steps", i],
      message: `profile ${profile.id} (role ${role}) polls ${want.href} for updates; the ota.serve as: ${step.server} (steps[${server.index}]) must serve there: give it host: ${want.hostname} and port: ${want.port || 80}`,
    });
  });
  return problems;
}
