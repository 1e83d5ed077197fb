import { InstrumentationScripts } from "./instrumentation.js";
import { LogcatBuffer, type LogBufferName } from "./logcat-buffer.js";
import { MemoryFs } from "./memory-fs.js";
import { PackageRegistry } from "./package-registry.js";

export interface AndroidIdentity {
  serial: string;
  model: string;
  product: string;
  device: string;
  manufacturer: string;
  sdk: number;
  release: string;
  abi: string;
}

export type RebootTarget = "" | "bootloader" | "recovery" | "fastboot";

/**
 * Everything the shell can see and change on the device: properties, files, packages, logs.
 * The transport (adb, fastboot) and the boot sequence live in VirtualAndroid.
 */
export class AndroidDeviceState {
  readonly fs = new MemoryFs();
  readonly props = new Map<string, string>();
  readonly packages = new PackageRegistry(this.fs);
  readonly logcat = new LogcatBuffer();
  readonly instrumentation = new InstrumentationScripts();
  screen: { width: number; height: number; density: number; override?: { width: number; height: number } | undefined } = { width: 1080, height: 2340, density: 440 };
  /** Set by the owner: what `reboot` (shell) and `reboot:` (service) do. */
  onReboot: (target: RebootTarget) => void = () => undefined;
  private nextPid = 3000;

  constructor(readonly identity: AndroidIdentity) {
    this.resetProperties();
  }

  /** Properties as a freshly booted system sets them, before `sys.boot_completed`. */
  resetProperties(): void {
    const id = this.identity;
    const abiList = id.abi === "arm64-v8a" ? "arm64-v8a,armeabi-v7a,armeabi" : id.abi === "x86_64" ? "x86_64,x86" : id.abi;
    const entries: [string, string][] = [
      ["ro.product.model", id.model],
      ["ro.product.name", id.product],
      ["ro.product.device", id.device],
      ["ro.product.brand", id.manufacturer.toLowerCase()],
      ["ro.product.manufacturer", id.manufacturer],
      ["ro.product.cpu.abi", id.abi],
      ["ro.product.cpu.abilist", abiList],
      ["ro.serialno", id.serial],
      ["ro.boot.serialno", id.serial],
      ["ro.build.version.sdk", String(id.sdk)],
      ["ro.build.version.release", id.release],
      ["ro.build.type", "user"],
      ["ro.build.tags", "release-keys"],
      ["ro.build.fingerprint", `${id.manufacturer.toLowerCase()}/${id.product}/${id.device}:${id.release}/HIL.${id.sdk}/1:user/release-keys`],
      ["ro.debuggable", "0"],
      ["ro.secure", "1"],
      ["ro.hardware", "virtual"],
      ["ro.boot.slot_suffix", "_a"],
      ["persist.sys.timezone", "UTC"],
      ["init.svc.adbd", "running"],
      ["init.svc.bootanim", "running"],
      ["service.bootanim.exit", "0"],
    ];
    this.props.clear();
    for (const [k, v] of entries) this.props.set(k, v);
  }

  markBootCompleted(): void {
    this.props.set("sys.boot_completed", "1");
    this.props.set("dev.bootcomplete", "1");
    this.props.set("init.svc.bootanim", "stopped");
    this.props.set("service.bootanim.exit", "1");
    this.log("ActivityManager", "Boot completed", 4, "system");
  }

  allocatePid(): number {
    return this.nextPid++;
  }

  log(tag: string, message: string, priority = 4, buffer: LogBufferName = "main", pid = 1000): void {
    this.logcat.append({ buffer, pid, tid: pid, priority, tag, message });
  }
}
