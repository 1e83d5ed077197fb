// The one error family: LabError and its named kinds, one per file.
export * from "./lab-error.js";
export { LinkClosedError } from "./link-closed-error.js";
export { BoardBusyError } from "./board-busy-error.js";
export { ProfileInvalidError } from "./profile-invalid-error.js";
export { StepTimeoutError } from "./step-timeout-error.js";
export { ImageInvalidError } from "./image-invalid-error.js";
export { UsageError } from "./usage-error.js";
