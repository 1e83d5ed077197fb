export * from "./web-serial-port-adapter.js";
export * from "./esp32-flash-driver.js";
export * from "./image-checks.js";
export * from "./link-guard.js";
export * from "./reset-sequencer.js";
export * from "./profile-reset-strategy.js";
export * from "./image-args.js";
export * from "./compressed-writer.js";
