import { readFile } from "node:fs/promises";
import { LabError, type Step } from "@hil/contracts";
import type { StepContext, StepOutcome } from "../step-context.js";
import { OtaFaultError, OtaHttpServer } from "./ota-http-server.js";

type OtaServeStep = Extract<Step, { type: "ota.serve" }>;

/** Where the server for `as` is kept in the run's scope. */
export const otaServerKey = (as: string) => `ota-server:${as}`;

/**
 * Starts the agent's OTA server for one artifact and publishes `${<as>.url}`, `${<as>.manifest}` and
 * `${<as>.version}` (the image's esp_app_desc_t version, so expect-boot can name it without repeating it).
 * A later ota.serve with the same `as` replaces it; the run's end closes it.
 */
export async function runOtaServeStep(ctx: StepContext<OtaServeStep>): Promise<StepOutcome> {
  const step = ctx.step;
  const path = ctx.artifacts[step.artifact];
  if (path === undefined) throw new LabError("ARTIFACT_MISSING", `artifact "${step.artifact}" was not given; pass it as --artifact ${step.artifact}=FILE`);
  let image: Uint8Array;
  try {
    image = new Uint8Array(await readFile(path));
  } catch (err) {
    throw new LabError("ARTIFACT_MISSING", `artifact "${step.artifact}" points to ${path}, which cannot be read`, { cause: err });
  }
  let server: OtaHttpServer;
  try {
    server = await OtaHttpServer.start({
      image,
      host: step.host,
      port: step.port,
      fault: step.fault,
      cutAtPercent: step.cutAt,
      ...(step.throttle !== undefined ? { throttle: step.throttle } : {}),
      ...(step.corruptOffset !== undefined ? { corruptOffset: step.corruptOffset } : {}),
    });
  } catch (err) {
    if (err instanceof RangeError) throw new LabError("SUITE_INVALID", `ota.serve: ${err.message}`, { cause: err });
    if (err instanceof OtaFaultError) throw new LabError("IMAGE_INVALID", `ota.serve ${step.artifact}: ${err.message}`, { cause: err });
    const e = err as NodeJS.ErrnoException;
    throw new LabError("INTERNAL", `ota.serve cannot listen on ${step.host}:${step.port} (${e.code ?? e.message}); use port: 0 for a free one or a host this agent has`, { cause: err });
  }
  await ctx.scope.hold(otaServerKey(step.as), server, (s) => s.close());
  ctx.scope.vars.set(`${step.as}.url`, server.url);
  ctx.scope.vars.set(`${step.as}.manifest`, server.manifestUrl);
  if (server.version !== undefined) ctx.scope.vars.set(`${step.as}.version`, server.version);
  const fault = step.fault === "none" ? "" : `, fault ${step.fault}: ${server.faultDetail}`;
  return {
    outcome: "pass",
    message: `serving ${step.artifact} (${server.version ?? "no app version"}, ${server.served.length} bytes) at ${server.url}${fault}`,
    details: {
      url: server.url,
      manifest: server.manifestUrl,
      version: server.version ?? null,
      bytes: server.served.length,
      sha256: server.sha256,
      fault: step.fault,
      ...(step.fault === "none" ? {} : { faultDetail: server.faultDetail }),
      throttle: step.throttle ?? null,
    },
  };
}
