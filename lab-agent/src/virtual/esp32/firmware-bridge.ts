/**
 * The board's seam to the simulated second-stage bootloader + app (firmware/). Kept as one import
 * point so the board does not reach into the firmware package's internals.
 */
export { bootFirmware } from "./firmware/index.js";
export type { FirmwareContext, RunningFirmware } from "./firmware/index.js";
