import { get } from "node:http";
import { OTADATA_SECTOR, OTADATA_SIZE, OTA_STATES, encodeOtaSelectEntry, otaSlotForSeq, readOtadata, type DecodedOtaEntry } from "../../../../esp32-image/otadata.js";
import { SW_CPU_RESET, type ScenarioEnv, type ScenarioRunner } from "../firmware-context.js";
import { bootStateOf } from "../ota-boot-select.js";
import type { ScenarioSpec } from "../scenario-spec.js";
import { startConsole } from "./console-scenario.js";
import { advertiseCompanion } from "./ota-companion.js";
import { serveUpdateEndpoint } from "./ota-http-endpoint.js";
import { runOtaUpdate } from "./ota-update.js";

type OtaSpec = Extract<ScenarioSpec, { kind: "ota" }>;

const RESTART_DELAY_MS = 20;
const MANIFEST_MAX_BYTES = 16 * 1024;

/**
 * An app built with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE: on boot it confirms itself when the
 * bootloader handed it over as PENDING_VERIFY (unless `markValid: false`), then runs an esp_console
 * REPL whose `ota <url>` command updates it; with `manifestUrl` it also polls for new versions.
 */
export function startOta(spec: OtaSpec, env: ScenarioEnv): ScenarioRunner {
  confirmRunningApp(spec, env);
  env.log("I", "main_task", "Returned from app_main()");
  let updating = false;
  const update = (url: string, finish: () => void) => {
    updating = true;
    runOtaUpdate(env, { url, tag: spec.tag, receiveTimeoutMs: spec.receiveTimeoutMs, signedUpdates: spec.signedUpdates }, (ok) => {
      if (ok) {
        env.timers.after(RESTART_DELAY_MS, () => env.reboot(SW_CPU_RESET));
        return;
      }
      updating = false;
      finish();
    });
  };
  if (spec.manifestUrl !== undefined) pollManifest(spec, spec.manifestUrl, env, () => updating, (url) => update(url, () => undefined));
  if (spec.httpTrigger !== undefined) {
    serveUpdateEndpoint({ ...spec.httpTrigger, tag: spec.tag }, env, (url) => {
      if (updating) return "busy";
      update(url, () => undefined);
      return "started";
    });
  }
  if (spec.companion !== undefined) advertiseCompanion(spec.companion, env);
  return startConsole(spec, env, {
    ota: {
      usage: "ota  <url>",
      help: "Download an app image over HTTP into the next OTA slot and restart into it",
      run(args, finish) {
        const url = args[0];
        if (url === undefined || updating) {
          env.log("E", spec.tag, url === undefined ? "usage: ota <url>" : "an update is already running");
          finish();
          return;
        }
        update(url, finish);
      },
    },
  });
}

/** esp_ota_get_state_partition for the running slot: the matching entry with the highest seq. */
function runningEntry(entries: readonly DecodedOtaEntry[], slot: number, count: number): DecodedOtaEntry | undefined {
  return entries
    .filter((e) => e.seq !== 0xffffffff && e.crcOk && otaSlotForSeq(e.seq, count) === slot)
    .sort((a, b) => b.seq - a.seq)[0];
}

/** The rollback example's startup: a PENDING_VERIFY app runs its diagnostics and marks itself VALID. */
function confirmRunningApp(spec: OtaSpec, env: ScenarioEnv): void {
  const state = bootStateOf(env.table);
  const part = env.partition;
  const info = state.otaInfo;
  if (!info || !part || part.type !== 0 || (part.subtype & 0xf0) !== 0x10) return;
  const entries = readOtadata(env.flash.bytes.subarray(info.offset, info.offset + OTADATA_SIZE));
  const entry = runningEntry(entries, part.subtype & 0x0f, state.otaCount);
  if (entry?.state !== OTA_STATES.PENDING_VERIFY) return;
  if (!spec.markValid) {
    env.log("W", spec.tag, `${part.label} is PENDING_VERIFY and this app does not confirm itself: the next reset rolls back`);
    return;
  }
  env.log("I", spec.tag, "Diagnostics completed successfully! Continuing execution ...");
  // esp_ota_mark_app_valid_cancel_rollback: rewrite the entry with state VALID.
  const at = info.offset + entry.index * OTADATA_SECTOR;
  env.flash.eraseRange(at, OTADATA_SECTOR);
  env.flash.program(at, encodeOtaSelectEntry({ seq: entry.seq, state: OTA_STATES.VALID, crc: entry.crc, label: entry.label }));
}

/** GETs the manifest every pollMs; a version other than the running one (and not one that already failed) is fetched. */
function pollManifest(spec: OtaSpec, manifestUrl: string, env: ScenarioEnv, busy: () => boolean, update: (url: string) => void): void {
  const tried = new Set<string>();
  const poll = () => {
    if (busy() || env.timers.isStopped) return;
    const req = get(manifestUrl, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
        if (text.length > MANIFEST_MAX_BYTES) res.destroy();
      });
      res.on("end", () => {
        if (env.timers.isStopped || res.statusCode !== 200) return;
        let manifest: { version?: unknown; url?: unknown };
        try {
          manifest = JSON.parse(text) as typeof manifest;
        } catch {
          env.log("W", spec.tag, `manifest at ${manifestUrl} is not JSON`);
          return;
        }
        const { version, url } = manifest;
        if (typeof version !== "string" || typeof url !== "string" || version === env.app.version || tried.has(version) || busy()) return;
        tried.add(version);
        env.log("I", spec.tag, `Manifest offers version ${version} (running ${env.app.version})`);
        update(new URL(url, manifestUrl).toString());
      });
    });
    req.setTimeout(spec.receiveTimeoutMs, () => req.destroy());
    req.on("error", () => undefined);
    const off = env.timers.onClear(() => req.destroy());
    req.on("close", off);
  };
  env.timers.after(100, poll);
  env.timers.every(spec.pollMs, poll);
}
