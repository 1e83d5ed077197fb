export * from "./usb-fingerprint.js";
export * from "./serial-discovery.js";
export * from "./usb-watcher.js";
