import { LabError, type Step } from "@hil/contracts";
import { fillOtaHeaders, fillOtaTemplate, type OtaTrigger } from "@hil/device-profiles";
import type { Esp32BoardTarget } from "../board-target.js";
import { requireEsp32, sleep, type StepContext, type StepOutcome } from "../step-context.js";
import type { OtaHttpServer, OtaRequestRecord } from "./ota-http-server.js";
import { otaServerKey } from "./ota-serve-step.js";

type OtaTriggerStep = Extract<Step, { type: "ota.trigger" }>;

/** How this step tells the device, and who decided it (the step, the board's profile, or the default). */
type Trigger =
  | { via: "command"; command: string; from: "step" | "profile" | "default" }
  | { via: "http"; method: string; url: string; body: string | undefined; headers: Record<string, string>; from: "profile" }
  | { via: "poll"; from: "step" | "profile" };

const HTTP_TRIGGER_TIMEOUT_MS = 10_000;

/**
 * Tells the device to update (a console command, an HTTP request to the device, or nothing when it
 * polls the manifest) and waits until it has fetched the image from the run's OTA server: all of it,
 * or as much as the server's fault let through. What happens on the device next is for expect-boot /
 * expect-rollback. The step's own `command` or `via` wins; otherwise the profile's `ota.trigger` says how.
 */
export async function runOtaTriggerStep(ctx: StepContext<OtaTriggerStep>): Promise<StepOutcome> {
  const target = requireEsp32(ctx);
  const step = ctx.step;
  const server = ctx.scope.get<OtaHttpServer>(otaServerKey(step.server));
  if (!server) throw new LabError("SUITE_INVALID", `ota.trigger: no OTA server "${step.server}" is running; add an ota.serve step with as: ${step.server} before it`);
  const trigger = chooseTrigger(ctx, target.otaTrigger, server);
  const since = trigger.via === "poll" ? 0 : server.requests.length;
  // What the board printed before belongs to the old firmware: later steps look at what follows.
  target.console.skipToEnd();
  let told: string;
  if (trigger.via === "command") {
    await target.send(`${trigger.command}\n`);
    told = `sent "${trigger.command}"`;
  } else if (trigger.via === "http") {
    told = await requestUpdate(trigger, ctx.signal);
  } else {
    told = "the device polled the manifest";
  }
  const fetched = await fetchedOrGaveUp(target, server, since, ctx);
  const how = fetched.end === "done" ? "fetched all" : fetched.end === "cut" ? "was cut off after" : "dropped the connection after";
  return {
    outcome: "pass",
    message: `${told}${trigger.from === "profile" ? " (the profile's trigger)" : ""}; the device ${how} ${fetched.bytesSent} of ${fetched.total} bytes from ${server.url}`,
    details: {
      via: trigger.via,
      trigger: trigger.from,
      command: trigger.via === "command" ? trigger.command : null,
      ...(trigger.via === "http" ? { request: `${trigger.method} ${trigger.url}` } : {}),
      url: server.url,
      bytesSent: fetched.bytesSent,
      total: fetched.total,
      end: fetched.end ?? null,
      from: fetched.from,
    },
  };
}

function chooseTrigger(ctx: StepContext<OtaTriggerStep>, profile: OtaTrigger | undefined, server: OtaHttpServer): Trigger {
  const step = ctx.step;
  if (step.command !== undefined) return { via: "command", command: ctx.scope.expand(step.command, "ota.trigger command"), from: "step" };
  if (step.via === "poll") return { via: "poll", from: "step" };
  const values = { url: server.url, manifest: server.manifestUrl, ...(server.version !== undefined ? { version: server.version } : {}) };
  const fill = (template: string, field: string): string => {
    if (template.includes("{version}") && server.version === undefined) {
      throw new LabError("SUITE_INVALID", `the profile's ${field} names {version}, but the image ota.serve as: ${step.server} serves has no app version`);
    }
    return fillOtaTemplate(template, values);
  };
  if (profile?.via === "command") return { via: "command", command: fill(profile.command, "ota.trigger.command"), from: "profile" };
  // No trigger in the profile, or the step asked for a console command and gave none: the default command.
  if (step.via === "command" || profile === undefined) return { via: "command", command: `ota ${server.url}`, from: "default" };
  if (profile.via === "http") {
    for (const [name, value] of Object.entries(profile.headers ?? {})) fill(value, `ota.trigger.headers.${name}`);
    return {
      via: "http",
      method: profile.method,
      url: fill(profile.url, "ota.trigger.url"),
      body: profile.body === undefined ? undefined : fill(profile.body, "ota.trigger.body"),
      headers: triggerHeaders(profile.headers ?? {}, values),
      from: "profile",
    };
  }
  if (profile.manifestUrl !== undefined && new URL(profile.manifestUrl).href !== new URL(server.manifestUrl).href) {
    const where = new URL(profile.manifestUrl);
    throw new LabError(
      "SUITE_INVALID",
      `the profile says the device polls ${profile.manifestUrl}, but ota.serve as: ${step.server} serves ${server.manifestUrl}; give that ota.serve host: ${where.hostname} and port: ${where.port || 80}`,
    );
  }
  return { via: "poll", from: "profile" };
}

/**
 * The profile's trigger headers, with `{env:NAME}` read from this agent's environment. A name it lacks, or a
 * value that is not one line, stops the step before anything is sent; the message names the variable, never
 * its value.
 */
function triggerHeaders(headers: Readonly<Record<string, string>>, values: Parameters<typeof fillOtaTemplate>[1]): Record<string, string> {
  const filled = fillOtaHeaders(headers, values, process.env);
  if ("missing" in filled) {
    throw new LabError(
      "PROFILE_INVALID",
      `the profile's ota.trigger.headers name {env:${filled.missing.join("}, {env:")}}, but this agent's environment has no ${filled.missing.join(", ")}: set it where the agent starts`,
    );
  }
  for (const [name, value] of Object.entries(filled.headers)) {
    if (/[\r\n\0]/.test(value)) throw new LabError("PROFILE_INVALID", `the profile's ota.trigger.headers.${name} holds a line break once filled in: check the environment variable it names`);
  }
  return filled.headers;
}

/** The profile's HTTP trigger: the device must answer 2xx, or the update never started. */
async function requestUpdate(trigger: Extract<Trigger, { via: "http" }>, signal: AbortSignal): Promise<string> {
  const what = `${trigger.method} ${trigger.url}`;
  let res: Response;
  try {
    res = await fetch(trigger.url, {
      method: trigger.method,
      headers: { ...(trigger.body !== undefined ? { "content-type": "text/plain" } : {}), ...trigger.headers },
      ...(trigger.body !== undefined ? { body: trigger.body } : {}),
      signal: AbortSignal.any([signal, AbortSignal.timeout(HTTP_TRIGGER_TIMEOUT_MS)]),
    });
  } catch (err) {
    if (signal.aborted) throw err;
    // fetch wraps the socket's error ("connect ECONNREFUSED …") as its cause
    const why = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
    throw new LabError("TEST_FAILED", `${what} (the profile's ota.trigger) got no answer from the device: ${why}`, { cause: err });
  }
  const text = (await res.text()).trim().slice(0, 200);
  if (!res.ok) {
    const hint = res.status === 401 || res.status === 403 ? "; check the credentials the profile's ota.trigger.headers send" : "";
    throw new LabError("TEST_FAILED", `${what} (the profile's ota.trigger): the device answered ${res.status}${text ? ` "${text}"` : ""}${hint}`);
  }
  return `${what} answered ${res.status}`;
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
