import type { InstrumentationScript } from "@hil/lab-agent";
import { androidImage, apk, firmware, otaPartitionTable, signedFirmware, type ExampleArtifact } from "./example-builders.js";

/**
 * What `hil examples artifacts SUITE` writes for each shipped suite: every artifact the suite names, made
 * for the virtual boards of `npm run lab` (2 ESP32, 1 Android), and where the run goes (`hil run` flags).
 */
export interface ExampleSuite {
  suite: string;
  /** `hil run` flags that pick the boards: the virtual profiles the lab's agent hosts. */
  where: string[];
  artifacts: ExampleArtifact[];
}

const ESP32 = ["--profile", "esp32-virtual"];
const ANDROID = ["--profile", "android-virtual"];
const ESP32_AND_PHONE = ["--role", "dut=esp32-virtual", "--role", "phone=android-virtual"];

const ota = (file: string, version: string, about: string, markValid = true) => firmware(file.replace(/\.bin$/, ""), file, "ota_demo", version, { kind: "ota", markValid }, about);

const v1 = ota("v1.bin", "1.0.0", "the app first flashed, into ota_0");
const v2 = ota("v2.bin", "2.0.0", "an update that confirms itself");
const unconfirmed = ota("unconfirmed.bin", "2.1.0", "an update that never calls esp_ota_mark_app_valid_cancel_rollback", false);

/** The companion app's instrumentation tests: one that only reads, one that talks to the board over the bench's air. */
function companionTests(minProtocol: number, maxProtocol: number): InstrumentationScript {
  const cls = "com.example.companion.FirmwareLinkTest";
  return {
    tests: [
      { class: cls, name: "readsAppVersion", result: "pass", durationMs: 5, log: [] },
      { class: cls, name: "talksToBoard", result: "pass", durationMs: 5, log: [], talk: { servicePrefix: "DEV_", minProtocol, maxProtocol, scanMs: 10_000 } },
    ],
  };
}

const companion = (file: string, version: 1 | 2, tests: boolean) =>
  apk(
    file.replace(/\.apk$/, ""),
    file,
    { packageName: tests ? "com.example.companion.test" : "com.example.companion", versionCode: version, ...(tests ? { tests: { targetPackage: "com.example.companion", script: companionTests(version, version) } } : {}) },
    tests ? `the ${version === 2 ? "new" : "old"} app's tests; talksToBoard speaks companion protocol ${version} only` : `the ${version === 2 ? "new" : "old"} companion app`,
  );

export const EXAMPLE_SUITES: readonly ExampleSuite[] = [
  { suite: "esp32-ota-happy", where: ESP32, artifacts: [otaPartitionTable(), v1, v2] },
  { suite: "esp32-ota-interrupted", where: ESP32, artifacts: [otaPartitionTable(), v1, v2] },
  { suite: "esp32-ota-rollback", where: ESP32, artifacts: [otaPartitionTable(), v1, unconfirmed] },
  { suite: "esp32-ota-bad-image", where: ESP32, artifacts: [otaPartitionTable(), v1, v2] },
  {
    suite: "esp32-ota-unsigned",
    where: ESP32,
    artifacts: [
      otaPartitionTable(),
      signedFirmware("v1", "v1.bin", "ota_demo", "1.0.0", { kind: "ota", signedUpdates: true }, "the app first flashed, into ota_0; takes only updates signed with its key"),
      signedFirmware("v2", "v2.bin", "ota_demo", "2.0.0", { kind: "ota", signedUpdates: true }, "an update signed with the same key"),
    ],
  },
  {
    suite: "esp32-ota",
    where: ESP32,
    artifacts: [otaPartitionTable(), v1, v2, ota("v3.bin", "3.0.0", "an update that never confirms itself", false), ota("v4.bin", "4.0.0", "served cut, corrupted and for the wrong chip")],
  },
  {
    suite: "android-ab-update",
    where: ANDROID,
    artifacts: [
      androidImage("boot", "boot.img", { bytes: 1024 * 1024, bootImage: true }, "the new build's boot image"),
      androidImage("system", "system.img", { bytes: 2 * 1024 * 1024 }, "the new build's system image"),
      androidImage("bad-boot", "bad-boot.img", { bytes: 1024 * 1024, bootImage: true, unbootable: true }, "a boot image that cannot boot (carries HIL-UNBOOTABLE)"),
    ],
  },
  {
    suite: "coupled-app-firmware-update",
    where: ESP32_AND_PHONE,
    artifacts: [
      otaPartitionTable(),
      firmware("firmware-v1", "firmware-v1.bin", "companion_fw", "1.0.0", { kind: "ota", companion: { protocol: 1 } }, "speaks companion protocol 1"),
      firmware("firmware-v2", "firmware-v2.bin", "companion_fw", "2.0.0", { kind: "ota", companion: { protocol: 2 } }, "speaks companion protocol 2"),
      companion("app-v2.apk", 2, false),
      companion("app-v2-tests.apk", 2, true),
      companion("app-v1.apk", 1, false),
      companion("app-v1-tests.apk", 1, true),
    ],
  },
  {
    suite: "android-instrumentation",
    where: ANDROID,
    artifacts: [
      apk("app", "app.apk", { packageName: "com.example.app", versionCode: 1 }, "the app under test"),
      apk(
        "test-apk",
        "app-tests.apk",
        {
          packageName: "com.example.app.test",
          versionCode: 1,
          tests: {
            targetPackage: "com.example.app",
            script: {
              tests: [
                { class: "com.example.app.LoginTest", name: "opensLoginScreen", result: "pass", durationMs: 20, log: ["login screen shown"] },
                { class: "com.example.app.LoginTest", name: "rejectsWrongPin", result: "pass", durationMs: 20, log: [] },
              ],
            },
          },
        },
        "its instrumentation tests (two that pass)",
      ),
    ],
  },
  {
    suite: "provision-esp32-from-android",
    where: ESP32_AND_PHONE,
    artifacts: [
      firmware("firmware", "firmware.bin", "wifi_prov_mgr", "1.0.0", { kind: "provisioning", pop: "abcd1234" }, "advertises PROV_… and takes Wi-Fi credentials with proof of possession abcd1234"),
      apk("provisioner", "provisioner.apk", { packageName: "com.example.provisioner", versionCode: 1, permissions: ["android.permission.ACCESS_FINE_LOCATION"] }, "the provisioning app"),
      apk(
        "provisioner-tests",
        "provisioner-tests.apk",
        {
          packageName: "com.example.provisioner.test",
          versionCode: 1,
          tests: {
            targetPackage: "com.example.provisioner",
            script: {
              tests: [
                {
                  class: "com.example.provisioner.ProvisionTest",
                  name: "sendsCredentials",
                  result: "pass",
                  durationMs: 5,
                  log: [],
                  provision: { servicePrefix: "PROV_", ssid: "hil-lab", password: "hil-lab-pass", pop: "abcd1234", scanMs: 10_000 },
                },
              ],
            },
          },
        },
        "sends SSID hil-lab to the board it finds",
      ),
    ],
  },
];

export function findExampleSuite(name: string): ExampleSuite | undefined {
  return EXAMPLE_SUITES.find((s) => s.suite === name);
}
