export * from "./links/index.js";
export * from "./drivers/esp32/index.js";
export * from "./agent/index.js";
export * from "./virtual/esp32/index.js";
export * from "./esp32-image/index.js";
