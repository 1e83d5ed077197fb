export * from "./links/index.js";
export * from "./drivers/esp32/index.js";
export * from "./agent/index.js";
