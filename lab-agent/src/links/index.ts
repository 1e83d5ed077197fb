export * from "./serial-link.js";
export * from "./link-emitter.js";
export * from "./memory-link.js";
export * from "./serialport-link.js";
