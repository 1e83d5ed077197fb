export * from "./adb-client.js";
export * from "./adb-errors.js";
export * from "./instrumentation-parser.js";
export * from "./instrumentation-run-error.js";
export * from "./run-tool.js";
export * from "./adb-server.js";
export * from "./fastboot-slots.js";
