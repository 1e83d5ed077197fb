import { createRequire } from "node:module";

/** What the package manager needs from an APK's binary AndroidManifest.xml. */
export interface ApkManifest {
  packageName: string;
  versionCode: number;
  versionName: string;
  /** `<instrumentation android:name=… android:targetPackage=…>`, when the APK has one. */
  instrumentation: { runner: string; targetPackage: string } | null;
  permissions: string[];
  /** A test APK made for the virtual board may carry its scripted results (HIL_INSTRUMENTATION_ASSET). */
  hilInstrumentation?: unknown;
}

interface RawManifest {
  package?: unknown;
  versionCode?: unknown;
  versionName?: unknown;
  instrumentation?: { name?: unknown; targetPackage?: unknown } | null;
  usesPermissions?: { name?: unknown }[];
}

interface ApkReaderModule {
  open(apk: Buffer | string): PromiseLike<{ readManifest(): PromiseLike<RawManifest>; readContent(path: string): PromiseLike<Buffer> }>;
}

// The package ships CommonJS without type declarations; this is the one call we use.
const ApkReader = createRequire(import.meta.url)("@devicefarmer/adbkit-apkreader") as ApkReaderModule;

export class ApkParseError extends Error {
  override readonly name = "ApkParseError";
}

/** Reads the manifest of an APK held in memory; an archive without a readable manifest throws. */
export async function readApkManifest(apk: Buffer): Promise<ApkManifest> {
  let raw: RawManifest;
  try {
    const reader = await ApkReader.open(apk);
    raw = await reader.readManifest();
  } catch (err) {
    throw new ApkParseError(`not an APK: ${(err as Error).message}`, { cause: err });
  }
  if (typeof raw.package !== "string" || raw.package.length === 0) throw new ApkParseError("AndroidManifest.xml has no package name");
  const instr = raw.instrumentation;
  return {
    packageName: raw.package,
    versionCode: typeof raw.versionCode === "number" ? raw.versionCode : Number(raw.versionCode ?? 0) || 0,
    versionName: typeof raw.versionName === "string" ? raw.versionName : String(raw.versionName ?? ""),
    instrumentation:
      instr && typeof instr.name === "string"
        ? { runner: instr.name, targetPackage: typeof instr.targetPackage === "string" ? instr.targetPackage : raw.package }
        : null,
    permissions: (raw.usesPermissions ?? []).map((p) => p.name).filter((n): n is string => typeof n === "string"),
    hilInstrumentation: await readHilScript(apk),
  };
}

/** Where a test APK built for the virtual board carries its scripted results (the ESP32 images' scenario, for Android). */
export const HIL_INSTRUMENTATION_ASSET = "assets/hil-instrumentation.json";

async function readHilScript(apk: Buffer): Promise<unknown> {
  let text: string;
  try {
    text = (await (await ApkReader.open(apk)).readContent(HIL_INSTRUMENTATION_ASSET)).toString("utf8");
  } catch {
    return undefined; // a real APK: no script, the default results
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
