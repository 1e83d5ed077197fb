import { createHash } from "node:crypto";
import { ApkParseError, readApkManifest, type ApkManifest } from "./apk-manifest.js";
import type { MemoryFs } from "./memory-fs.js";

export interface InstalledPackage {
  name: string;
  versionCode: number;
  versionName: string;
  apkPath: string;
  thirdParty: boolean;
  instrumentation: ApkManifest["instrumentation"];
  requested: string[];
  granted: Set<string>;
  stopped: boolean;
  /** Scripted results the APK carried (HIL_INSTRUMENTATION_ASSET), for `am instrument`. */
  script?: unknown;
}

export interface InstallOptions {
  /** `-d`: allow a lower versionCode. */
  allowDowngrade?: boolean;
  /** `-g`: grant every requested permission. */
  grantAll?: boolean;
}

const SYSTEM_PACKAGES = ["android", "com.android.settings", "com.android.shell", "com.android.systemui", "com.android.providers.settings", "com.android.phone", "com.google.android.webview"];

/** Installed packages and their permissions, as `pm` and `cmd package` see them. */
export class PackageRegistry {
  private readonly packages = new Map<string, InstalledPackage>();
  /** Set by a fault: the next install answers `Failure [<code>]` and then clears. */
  pendingFailure: string | null = null;

  constructor(private readonly fs: MemoryFs) {
    for (const name of SYSTEM_PACKAGES) {
      const apkPath = name === "android" ? "/system/framework/framework-res.apk" : `/system/app/${name.split(".").pop()}/${name.split(".").pop()}.apk`;
      this.packages.set(name, { name, versionCode: 30, versionName: "11", apkPath, thirdParty: false, instrumentation: null, requested: [], granted: new Set(), stopped: false });
    }
  }

  list(): InstalledPackage[] {
    return [...this.packages.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): InstalledPackage | undefined {
    return this.packages.get(name);
  }

  /** The installed package whose `<instrumentation>` is `<pkg>/<runner>`. */
  findInstrumentation(pkg: string, runner: string): InstalledPackage | undefined {
    const p = this.packages.get(pkg);
    if (!p?.instrumentation) return undefined;
    const full = runner.startsWith(".") ? `${pkg}${runner}` : runner;
    return p.instrumentation.runner === full ? p : undefined;
  }

  /** Installs APK bytes; the answer is pm's own line, `Success` or `Failure [CODE: detail]`. */
  async install(apk: Buffer, opts: InstallOptions = {}): Promise<string> {
    if (this.pendingFailure !== null) {
      const code = this.pendingFailure;
      this.pendingFailure = null;
      return `Failure [${code}]`;
    }
    let manifest: ApkManifest;
    try {
      manifest = await readApkManifest(apk);
    } catch (err) {
      if (err instanceof ApkParseError) return `Failure [INSTALL_PARSE_FAILED_NOT_APK: Failed to parse base.apk: ${err.message}]`;
      throw err;
    }
    const existing = this.packages.get(manifest.packageName);
    if (existing && !existing.thirdParty) return `Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE: Package ${manifest.packageName} is a system package]`;
    if (existing && manifest.versionCode < existing.versionCode && !opts.allowDowngrade) {
      return `Failure [INSTALL_FAILED_VERSION_DOWNGRADE: Downgrade detected: Update version code ${manifest.versionCode} is older than current ${existing.versionCode}]`;
    }
    if (existing) this.fs.remove(existing.apkPath.replace(/\/base\.apk$/, ""), true);
    const salt = createHash("sha256").update(apk).digest("base64url");
    const apkPath = `/data/app/~~${salt.slice(0, 22)}==/${manifest.packageName}-${salt.slice(22, 44)}==/base.apk`;
    this.fs.writeFile(apkPath, apk);
    this.fs.mkdirp(`/data/data/${manifest.packageName}`);
    this.packages.set(manifest.packageName, {
      name: manifest.packageName,
      versionCode: manifest.versionCode,
      versionName: manifest.versionName,
      apkPath,
      thirdParty: true,
      instrumentation: manifest.instrumentation,
      requested: manifest.permissions,
      granted: new Set(opts.grantAll ? manifest.permissions : (existing?.granted ?? [])),
      stopped: true,
      ...(manifest.hilInstrumentation !== undefined ? { script: manifest.hilInstrumentation } : {}),
    });
    return "Success";
  }

  uninstall(name: string): string {
    const p = this.packages.get(name);
    if (!p || !p.thirdParty) return "Failure [DELETE_FAILED_INTERNAL_ERROR]";
    this.fs.remove(p.apkPath.replace(/\/base\.apk$/, ""), true);
    this.fs.remove(`/data/data/${name}`, true);
    this.packages.delete(name);
    return "Success";
  }

  /** Empties the app's data directory, as `pm clear` does. */
  clear(name: string): boolean {
    const p = this.packages.get(name);
    if (!p) return false;
    const dir = `/data/data/${name}`;
    if (this.fs.stat(dir)) this.fs.remove(dir, true);
    this.fs.mkdirp(dir);
    p.stopped = true;
    return true;
  }
}
