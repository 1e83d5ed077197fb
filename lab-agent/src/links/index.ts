export * from "./serial-link.js";
export * from "./link-emitter.js";
export * from "./memory-link.js";
export * from "./serialport-link.js";
export * from "./rfc2217/index.js";
export * from "./open-link.js";
