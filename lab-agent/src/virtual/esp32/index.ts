export { VirtualEsp32, type VirtualEsp32Options, type Esp32Mode } from "./virtual-esp32.js";
export { startVirtualEsp32Fleet, describeFleetBoard, type VirtualEsp32FleetOptions, type VirtualEsp32Fleet, type FleetBoard } from "./fleet.js";
export { SlipDecoder, slipEncode, type SlipEvent } from "./slip.js";
export { RESET_REASONS, romBanner, type ResetReason } from "./reset-reasons.js";
export type { FirmwareContext, RunningFirmware } from "./firmware-bridge.js";
export { PtyExposure, exposePty, type PtyHandle } from "../pty-exposure.js";
export { BoardControlSocket, type BoardControl } from "../board-control-socket.js";
export { parseFlashSize } from "./flash-size.js";
export { loadScenario, loadScenarioManifest } from "./firmware/index.js";
