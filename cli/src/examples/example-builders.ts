import { generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildEsp32Image, buildPartitionTable, buildTestApk, loadSigningKey, OTA_ONLY_TABLE, signImageV2, UNBOOTABLE_MARKER, type InstrumentationScript, type ScenarioSpecInput } from "@hil/lab-agent";

/**
 * One artifact of an example suite: how it is written and a line saying what it is. Each stands in for
 * what a real build would produce, made for the lab's virtual boards.
 */
export interface ExampleArtifact {
  /** The suite's artifact name (`hil run --artifact NAME=FILE`). */
  name: string;
  /** File name inside the output folder. */
  file: string;
  about: string;
  /** Needs Debian's `aapt` to build a real APK. */
  apk?: boolean;
  write(path: string): Promise<void>;
}

const JUNIT_RUNNER = "androidx.test.runner.AndroidJUnitRunner";

/** Padded so an `ota.serve` fault (cut at 50 %) lands inside the image, as it would with a real app. */
const FIRMWARE_BYTES = 96 * 1024;

/** An ESP32 app image whose embedded scenario is what the virtual board runs after `app_main()`. */
export function firmware(name: string, file: string, project: string, version: string, scenario: ScenarioSpecInput, about: string): ExampleArtifact {
  return {
    name,
    file,
    about: `${project} ${version}: ${about}`,
    async write(path) {
      await writeFile(path, buildEsp32Image({ appDesc: { projectName: project, version }, scenario, padTo: FIRMWARE_BYTES, padSeed: version.charCodeAt(0) }));
    },
  };
}

let exampleKey: KeyObject | undefined;
/** One RSA-3072 key per process for the signed examples: every image one `hil examples artifacts` writes shares it. */
function signingKey(): KeyObject {
  exampleKey ??= loadSigningKey(generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey.export({ type: "pkcs8", format: "pem" }));
  return exampleKey;
}

/** `firmware`, signed as `hil image sign` signs it (Secure Boot V2), with the key the other signed examples use. */
export function signedFirmware(name: string, file: string, project: string, version: string, scenario: ScenarioSpecInput, about: string): ExampleArtifact {
  return {
    name,
    file,
    about: `${project} ${version}: ${about} (signed)`,
    async write(path) {
      await writeFile(path, signImageV2(buildEsp32Image({ appDesc: { projectName: project, version }, scenario, padTo: FIRMWARE_BYTES, padSeed: version.charCodeAt(0) }), signingKey()));
    },
  };
}

/** The OTA partition table (otadata, ota_0 at 0x10000, ota_1), as `hil image partition-table --layout ota` writes it. */
export function otaPartitionTable(name = "partition-table"): ExampleArtifact {
  return {
    name,
    file: "partition-table.bin",
    about: "ESP-IDF partition table: nvs, otadata, phy_init, ota_0 at 0x10000, ota_1 at 0x190000",
    async write(path) {
      await writeFile(path, buildPartitionTable(OTA_ONLY_TABLE));
    },
  };
}

export interface ApkSpec {
  packageName: string;
  versionCode: number;
  permissions?: string[];
  /** For a test APK: the package it instruments and what each of its tests does on a virtual phone. */
  tests?: { targetPackage: string; script: InstrumentationScript };
}

/** A real APK (binary manifest, built with aapt); a test APK carries its scripted results for the virtual phone. */
export function apk(name: string, file: string, spec: ApkSpec, about: string): ExampleArtifact {
  return {
    name,
    file,
    apk: true,
    about: `${spec.packageName} versionCode ${spec.versionCode}: ${about}`,
    async write(path) {
      const work = await mkdtemp(join(tmpdir(), "hil-apk-"));
      try {
        const built = buildTestApk(work, {
          packageName: spec.packageName,
          versionCode: spec.versionCode,
          versionName: `${spec.versionCode}.0`,
          ...(spec.permissions ? { permissions: spec.permissions } : {}),
          ...(spec.tests ? { instrumentation: { runner: JUNIT_RUNNER, targetPackage: spec.tests.targetPackage }, instrumentationScript: spec.tests.script } : {}),
        });
        await copyFile(built, path);
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}

/**
 * A partition image for the virtual Android's bootloader. A virtual board runs no kernel, so what cannot
 * boot is marked: `unbootable` puts UNBOOTABLE_MARKER in the first bytes (docs/android.md, "A/B updates").
 */
export function androidImage(name: string, file: string, opts: { bytes: number; bootImage?: boolean; unbootable?: boolean }, about: string): ExampleArtifact {
  return {
    name,
    file,
    about,
    async write(path) {
      const head = `${opts.bootImage ? "ANDROID!" : ""}${opts.unbootable ? UNBOOTABLE_MARKER : ""}`;
      await writeFile(path, Buffer.concat([Buffer.from(head), randomBytes(opts.bytes)]));
    },
  };
}
