export { VirtualAndroid, DEFAULT_ADB_FEATURES, type VirtualAndroidOptions, type AndroidMode, type AndroidFaults } from "./virtual-android.js";
export { AndroidDeviceState, type AndroidIdentity, type RebootTarget } from "./device-state.js";
export { FastbootDevice, DEFAULT_PARTITIONS, type PartitionSpec, type FlashedImage } from "./fastboot-device.js";
export { InstrumentationScriptSchema, ScriptedTestSchema, type InstrumentationScript, type ScriptedTest } from "./instrumentation.js";
export { readApkManifest, ApkParseError, type ApkManifest } from "./apk-manifest.js";
export { pickFreePort } from "./tcp-endpoint.js";
export { executeAndroidControl, AndroidControlSocket, ANDROID_CONTROL_HELP } from "./android-control.js";
export { startVirtualAndroidFleet, describeAndroidBoard, adbPortProblem, type VirtualAndroidFleetOptions, type VirtualAndroidFleet, type AndroidFleetBoard } from "./fleet.js";
