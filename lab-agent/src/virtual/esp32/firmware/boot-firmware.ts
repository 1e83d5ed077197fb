import { appMainText, appStartupText } from "./app-startup.js";
import { RTCWDT_BROWN_OUT_RESET, SW_CPU_RESET, SW_RESET, type FirmwareContext, type ResetReason, type RunningFirmware, type ScenarioEnv, type ScenarioRunner } from "./firmware-context.js";
import { BootClock, crlf, idfLine } from "./idf-log.js";
import { abortText, panicText } from "./panic-text.js";
import { ScenarioSpecSchema, type ScenarioSpec } from "./scenario-spec.js";
import { norFlashAccess } from "./flash-access.js";
import { startConsole } from "./scenarios/console-scenario.js";
import { startOta } from "./scenarios/ota-scenario.js";
import { startHang } from "./scenarios/hang-scenario.js";
import { startLogger } from "./scenarios/logger-scenario.js";
import { startUnity } from "./scenarios/unity-scenario.js";
import { startProvisioning } from "./scenarios/provisioning-scenario.js";
import { runSecondStageBootloader, type LoadedApp } from "./second-stage-bootloader.js";
import { TimerBag } from "./timer-bag.js";

/** Pause before the bootloader resets after refusing every app: slow enough not to flood a console. */
export const BOOT_LOOP_DELAY_MS = 400;
/** Time between the ROM banner and the bootloader's first line, and from there to app startup. */
const BOOTLOADER_DELAY_MS = 10;
const APP_START_DELAY_MS = 30;
const PANIC_REBOOT_DELAY_MS = 50;
/** The UART RX FIFO: bytes that arrive before the app reads its console wait here; more are lost. */
const RX_FIFO_BYTES = 128;

export type ScenarioSource = "board" | "manifest" | "image" | "default";

/** Board override first, then the manifest entry for the image's SHA-256, then the image's own, then idle. */
export function chooseScenario(ctx: Pick<FirmwareContext, "scenario" | "manifest">, app: LoadedApp): { spec: ScenarioSpec; source: ScenarioSource } {
  if (ctx.scenario) return { spec: ctx.scenario, source: "board" };
  const images = ctx.manifest?.images ?? {};
  const byFile = images[app.info.sha256];
  if (byFile) return { spec: byFile, source: "manifest" };
  const byHash = app.info.hash ? images[app.info.hash.stored] : undefined;
  if (byHash) return { spec: byHash, source: "manifest" };
  if (app.info.scenario) return { spec: app.info.scenario, source: "image" };
  return { spec: ScenarioSpecSchema.parse({ kind: "idle" }), source: "default" };
}

/**
 * Runs what a virtual ESP32 does after the ROM banner: the second-stage bootloader's checks and
 * log, the app's startup log, then the scenario. Everything is timer-driven; stop() clears it all.
 */
export function bootFirmware(ctx: FirmwareContext): RunningFirmware {
  const timers = new TimerBag();
  const clock = new BootClock();
  let runner: ScenarioRunner | undefined;
  let rebooting = false;
  let early = new Uint8Array(0);

  const print = (text: string) => {
    if (!timers.isStopped) ctx.print(text);
  };
  const reboot = (reason: ResetReason) => {
    if (rebooting || timers.isStopped) return;
    rebooting = true;
    timers.clear();
    ctx.reboot(reason);
  };

  timers.after(BOOTLOADER_DELAY_MS, () => {
    const result = runSecondStageBootloader(ctx.flash, clock, ctx.storage);
    print(result.text);
    if (!result.ok) {
      timers.after(BOOT_LOOP_DELAY_MS, () => reboot(SW_RESET));
      return;
    }
    const app = result.app;
    const { spec } = chooseScenario(ctx, app);
    const elfSha = app.info.appDesc?.elfSha256 ?? "";
    timers.after(APP_START_DELAY_MS, () => {
      print(appStartupText(app, clock));
      if (spec.kind === "bootloop") {
        timers.after(spec.afterMs, () => {
          if (spec.cause === "brownout") {
            print(crlf("\nBrownout detector was triggered\n\n"));
            timers.after(PANIC_REBOOT_DELAY_MS, () => reboot(RTCWDT_BROWN_OUT_RESET));
            return;
          }
          print(spec.cause === "abort" ? abortText(elfSha) : panicText({ reason: "IllegalInstruction", description: "Exception was unhandled.", core: 0 }, elfSha));
          timers.after(PANIC_REBOOT_DELAY_MS, () => reboot(SW_CPU_RESET));
        });
        return;
      }
      print(appMainText(clock));
      clock.startRealTime();
      runner = startScenario(spec, makeEnv(ctx, app, clock, timers, print, reboot));
      if (early.length > 0) runner.input(early);
      early = new Uint8Array(0);
    });
  });

  return {
    input(bytes) {
      if (timers.isStopped) return;
      if (runner) {
        runner.input(bytes);
        return;
      }
      const room = RX_FIFO_BYTES - early.length;
      if (room <= 0) return;
      const next = new Uint8Array(early.length + Math.min(room, bytes.length));
      next.set(early);
      next.set(bytes.subarray(0, room), early.length);
      early = next;
    },
    stop() {
      timers.clear();
    },
  };
}

function makeEnv(
  ctx: FirmwareContext,
  app: LoadedApp,
  clock: BootClock,
  timers: TimerBag,
  print: (text: string) => void,
  reboot: (reason: ResetReason) => void,
): ScenarioEnv {
  const desc = app.info.appDesc;
  const env: ScenarioEnv = {
    print,
    log: (level, tag, message) => print(idfLine(level, clock.now(), tag, message)),
    timers,
    reboot,
    panic: (details) => {
      print(panicText(details, desc?.elfSha256 ?? ""));
      timers.after(PANIC_REBOOT_DELAY_MS, () => reboot(SW_CPU_RESET));
    },
    app: { projectName: desc?.projectName ?? "", version: desc?.version ?? "", idfVersion: desc?.idfVersion ?? "", elfSha256: desc?.elfSha256 ?? "" },
    mac: ctx.mac,
    flash: ctx.storage ?? norFlashAccess(ctx.flash),
    table: app.table ?? [],
    ...(app.partition ? { partition: app.partition } : {}),
  };
  return env;
}

function startScenario(spec: ScenarioSpec, env: ScenarioEnv): ScenarioRunner {
  for (const line of spec.lines) env.timers.after(line.afterMs, () => env.log(line.level, line.tag, line.message));
  const quiet: ScenarioRunner = { input: () => undefined };
  switch (spec.kind) {
    case "idle":
      env.log("I", "main_task", "Returned from app_main()");
      return quiet;
    case "logger":
      return startLogger(spec, env);
    case "console":
      // app_main starts the REPL task and returns; the REPL's banner and prompt come after.
      env.log("I", "main_task", "Returned from app_main()");
      return startConsole(spec, env);
    case "unity":
      return startUnity(spec, env);
    case "panic":
      env.timers.after(spec.afterMs, () => env.panic(spec.panic));
      return quiet;
    case "hang":
      return startHang(spec, env);
    case "ota":
      return startOta(spec, env);
    case "provisioning":
      return startProvisioning(spec, env);
    case "bootloop":
      return quiet;
  }
}
