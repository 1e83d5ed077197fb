import { LabError, type Step } from "@hil/contracts";
import type { Esp32BoardTarget } from "../board-target.js";
import { requireEsp32, sleep, type StepContext, type StepOutcome } from "../step-context.js";
import type { OtaHttpServer, OtaRequestRecord } from "./ota-http-server.js";
import { otaServerKey } from "./ota-serve-step.js";

type OtaTriggerStep = Extract<Step, { type: "ota.trigger" }>;

/**
 * Tells the device to update (a console command, or nothing when it polls the manifest) and waits
 * until it has fetched the image from the run's OTA server: all of it, or as much as the server's
 * fault let through. What happens on the device next is for expect-boot / expect-rollback.
 */
export async function runOtaTriggerStep(ctx: StepContext<OtaTriggerStep>): Promise<StepOutcome> {
  const target = requireEsp32(ctx);
  const step = ctx.step;
  const server = ctx.scope.get<OtaHttpServer>(otaServerKey(step.server));
  if (!server) throw new LabError("SUITE_INVALID", `ota.trigger: no OTA server "${step.server}" is running; add an ota.serve step with as: ${step.server} before it`);
  const since = step.via === "poll" ? 0 : server.requests.length;
  // What the board printed before belongs to the old firmware: later steps look at what follows.
  target.console.skipToEnd();
  let command: string | undefined;
  if (step.via === "command") {
    command = ctx.scope.expand(step.command ?? `ota \${${step.server}.url}`, "ota.trigger command");
    await target.send(`${command}\n`);
  }
  const fetched = await fetchedOrGaveUp(target, server, since, ctx);
  const how = fetched.end === "done" ? "fetched all" : fetched.end === "cut" ? "was cut off after" : "dropped the connection after";
  return {
    outcome: "pass",
    message: `${command !== undefined ? `sent "${command}"; ` : "the device polled the manifest; "}the device ${how} ${fetched.bytesSent} of ${fetched.total} bytes from ${server.url}`,
    details: { via: step.via, command: command ?? null, url: server.url, bytesSent: fetched.bytesSent, total: fetched.total, end: fetched.end ?? null, from: fetched.from },
  };
}

/** What an app prints when it gives up on an update (the virtual app; ESP-IDF's examples print alike). */
const GAVE_UP = /OTA failed|HTTP connection failed|esp_https_ota_begin failed|Firmware upgrade failed/;
/** The server may record the end of a download a moment after the device has already reacted to it. */
const RECORD_GRACE_MS = 300;

/**
 * The server's record of the download, or a TEST_FAILED as soon as the app says it gave up without
 * fetching anything (a wrong URL, no route): no need to wait out the step's timeout for that.
 */
async function fetchedOrGaveUp(target: Esp32BoardTarget, server: OtaHttpServer, since: number, ctx: StepContext): Promise<OtaRequestRecord> {
  const ac = new AbortController();
  const onAbort = () => ac.abort(ctx.signal.reason);
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  // expectNot watches without moving the console cursor, so expect-rollback still sees the same lines.
  const gaveUp = target.console.expectNot(GAVE_UP, ctx.timeoutMs, ac.signal).then(
    () => new Promise<never>(() => undefined),
    (err: unknown) => {
      if (ac.signal.aborted && !ctx.signal.aborted) return new Promise<never>(() => undefined);
      throw err;
    },
  );
  try {
    return await Promise.race([server.waitForDownload(since, ac.signal), gaveUp]);
  } catch (err) {
    if (ctx.signal.aborted || (err as { code?: string }).code !== "TEST_FAILED") throw err;
    await sleep(RECORD_GRACE_MS, ctx.signal);
    const late = server.requests.slice(since).find((r) => r.path.endsWith(".bin") && r.end !== undefined);
    if (late) return late;
    const line = /must not appear: (.*)$/s.exec((err as Error).message)?.[1] ?? (err as Error).message;
    throw new LabError("TEST_FAILED", `the device gave up on the update without fetching ${server.url}: ${line}`, { cause: err });
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
    ac.abort();
  }
}
