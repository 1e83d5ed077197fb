export * from "./usb-fingerprint.js";
export * from "./serial-discovery.js";
export * from "./usb-watcher.js";
export * from "./android-match.js";
export * from "./adb-device-tracker.js";
