import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HIL_INSTRUMENTATION_ASSET } from "./apk-manifest.js";
import type { InstrumentationScript } from "./instrumentation.js";

export const AAPT = "/usr/bin/aapt";

export interface TestApkSpec {
  packageName: string;
  versionCode: number;
  versionName: string;
  /** Adds `<instrumentation android:name=runner android:targetPackage=…>`. */
  instrumentation?: { runner: string; targetPackage: string };
  permissions?: string[];
  /** Random bytes stored as an asset, so the APK spans many WRTEs. */
  padBytes?: number;
  /** Scripted `am instrument` results the virtual board uses for this test APK (carried as HIL_INSTRUMENTATION_ASSET). */
  instrumentationScript?: InstrumentationScript;
}

/** Why APK tests are skipped, or null when Debian's `aapt` package is installed. */
export function apkToolMissing(): string | null {
  return existsSync(AAPT) ? null : `needs ${AAPT} (Debian package "aapt") to build a real APK; skipped`;
}

/**
 * Builds a real APK (a zip with a compiled binary AndroidManifest.xml) with Debian's aapt. There is
 * no android.jar in Debian, so a stub framework package with the real attribute ids of
 * `android:name`, `versionCode`, … is built first with `aapt -x` (package id 0x01) and linked with -I.
 */
export function buildTestApk(dir: string, spec: TestApkSpec): string {
  const fw = join(dir, "framework");
  mkdirSync(join(fw, "res", "values"), { recursive: true });
  const attrs: [string, string, string][] = [
    ["label", "0x01010001", "string|reference"],
    ["name", "0x01010003", "string"],
    ["targetPackage", "0x01010021", "string"],
    ["versionCode", "0x0101021b", "integer"],
    ["versionName", "0x0101021c", "string"],
  ];
  writeFileSync(
    join(fw, "res", "values", "public.xml"),
    `<resources>\n${attrs.map(([n, , f]) => `  <attr name="${n}" format="${f}"/>`).join("\n")}\n${attrs.map(([n, id]) => `  <public type="attr" name="${n}" id="${id}"/>`).join("\n")}\n</resources>\n`,
  );
  writeFileSync(join(fw, "AndroidManifest.xml"), `<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="android"/>\n`);
  const fwApk = join(dir, "framework.apk");
  execFileSync(AAPT, ["package", "-f", "-x", "-M", join(fw, "AndroidManifest.xml"), "-S", join(fw, "res"), "-F", fwApk], { stdio: "pipe" });

  const app = join(dir, spec.packageName);
  mkdirSync(join(app, "assets"), { recursive: true });
  const perms = (spec.permissions ?? []).map((p) => `  <uses-permission android:name="${p}"/>\n`).join("");
  const instr = spec.instrumentation ? `  <instrumentation android:name="${spec.instrumentation.runner}" android:targetPackage="${spec.instrumentation.targetPackage}"/>\n` : "";
  writeFileSync(
    join(app, "AndroidManifest.xml"),
    `<?xml version="1.0" encoding="utf-8"?>\n<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="${spec.packageName}" android:versionCode="${spec.versionCode}" android:versionName="${spec.versionName}">\n${perms}  <application android:label="${spec.packageName}"/>\n${instr}</manifest>\n`,
  );
  writeFileSync(join(app, "assets", "payload.bin"), randomBytes(spec.padBytes ?? 0));
  if (spec.instrumentationScript) writeFileSync(join(app, HIL_INSTRUMENTATION_ASSET), JSON.stringify(spec.instrumentationScript));
  const out = join(dir, `${spec.packageName}.apk`);
  // -0 bin: store the padding uncompressed so the APK really is that large.
  execFileSync(AAPT, ["package", "-f", "-0", "bin", "-M", join(app, "AndroidManifest.xml"), "-A", join(app, "assets"), "-I", fwApk, "-F", out], { stdio: "pipe" });
  return out;
}
