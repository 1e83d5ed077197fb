export { bootFirmware, chooseScenario, BOOT_LOOP_DELAY_MS } from "./boot-firmware.js";
export type { ScenarioSource } from "./boot-firmware.js";
export type { FirmwareContext, ResetReason, RunningFirmware } from "./firmware-context.js";
export { SW_CPU_RESET, SW_RESET, TGWDT_CPU_RESET, RTCWDT_BROWN_OUT_RESET } from "./firmware-context.js";
export { loadScenario, loadScenarioManifest, parseScenarioText } from "./load-scenario.js";
export {
  BUILTIN_SCENARIOS,
  ScenarioManifestSchema,
  ScenarioSpecSchema,
  UnityCaseSchema,
  PanicDetailsSchema,
} from "./scenario-spec.js";
export type { ScenarioKind, ScenarioManifest, ScenarioSpec, ScenarioSpecInput, UnityCase, PanicDetails } from "./scenario-spec.js";
export { runSecondStageBootloader, BOOTLOADER_IDF_VERSION } from "./second-stage-bootloader.js";
export type { BootloaderResult, LoadedApp } from "./second-stage-bootloader.js";
export { panicText } from "./panic-text.js";
