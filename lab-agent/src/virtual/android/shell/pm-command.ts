import { FsError, MemoryFs } from "../memory-fs.js";
import type { ShellCommand, ShellIo } from "./shell-types.js";

const FEATURES = ["android.hardware.touchscreen", "android.hardware.wifi", "android.hardware.bluetooth", "android.hardware.bluetooth_le", "android.hardware.usb.host", "android.software.app_widgets"];

async function exception(io: ShellIo, verb: string, message: string): Promise<number> {
  await io.stderr(`Exception occurred while executing '${verb}':\n${message}\n`);
  return 255;
}

/** Reads exactly `size` bytes of streamed APK from stdin (`pm install -S <size>`). */
async function readStreamed(io: ShellIo, size: number): Promise<Buffer | null> {
  try {
    return await io.stdin.read(size);
  } catch {
    return null;
  }
}

/** `pm` and `cmd package`: the package manager shell command. */
export const pm: ShellCommand = async (argv, io, ctx) => {
  const registry = ctx.device.packages;
  const [, verb, ...args] = argv;
  switch (verb) {
    case "list": {
      const what = args[0];
      const opts = args.slice(1).filter((a) => a.startsWith("-"));
      const filter = args.slice(1).find((a) => !a.startsWith("-") && !/^\d+$/.test(a));
      if (what === "packages") {
        const lines = registry
          .list()
          .filter((p) => !opts.includes("-3") || p.thirdParty)
          .filter((p) => !opts.includes("-s") || !p.thirdParty)
          .filter((p) => filter === undefined || p.name.includes(filter))
          .map((p) => `package:${opts.includes("-f") ? `${p.apkPath}=` : ""}${p.name}${opts.includes("--show-versioncode") ? ` versionCode:${p.versionCode}` : ""}\n`);
        await io.stdout(lines.join(""));
        return 0;
      }
      if (what === "instrumentation") {
        const lines = registry
          .list()
          .filter((p) => p.instrumentation)
          .map((p) => `instrumentation:${p.name}/${p.instrumentation!.runner} (target=${p.instrumentation!.targetPackage})\n`);
        await io.stdout(lines.join(""));
        return 0;
      }
      if (what === "features") {
        await io.stdout(FEATURES.map((f) => `feature:${f}\n`).join(""));
        return 0;
      }
      if (what === "users") {
        await io.stdout("Users:\n\tUserInfo{0:Owner:c13} running\n");
        return 0;
      }
      return exception(io, "list", `java.lang.IllegalArgumentException: Unknown list type '${what ?? ""}'`);
    }
    case "path": {
      const p = registry.get(args.find((a) => !a.startsWith("-")) ?? "");
      if (!p) return 1;
      await io.stdout(`package:${p.apkPath}\n`);
      return 0;
    }
    case "install":
    case "install-streamed": {
      let size: number | null = null;
      let path: string | undefined;
      let allowDowngrade = false;
      let grantAll = false;
      for (let i = 0; i < args.length; i++) {
        const a = args[i]!;
        if (a === "-S") size = Number(args[++i]);
        else if (a === "-i" || a === "--user" || a === "--install-location" || a === "-p" || a === "--originating-uri" || a === "--referrer" || a === "--abi") i++;
        else if (a === "-d") allowDowngrade = true;
        else if (a === "-g") grantAll = true;
        else if (!a.startsWith("-")) path = a;
      }
      let apk: Buffer | null;
      if (size !== null) {
        if (!Number.isInteger(size) || size < 0) return exception(io, "install", `java.lang.IllegalArgumentException: Bad size ${args[args.indexOf("-S") + 1]}`);
        apk = await readStreamed(io, size);
        if (apk === null) {
          await io.stdout("Failure [INSTALL_FAILED_INVALID_APK: the stream ended before the declared size]\n");
          return 1;
        }
      } else {
        if (path === undefined) return exception(io, "install", "java.lang.IllegalArgumentException: Error: no package specified");
        try {
          apk = ctx.device.fs.readFile(MemoryFs.normalize(path, ctx.cwd));
        } catch (err) {
          if (!(err instanceof FsError)) throw err;
          return exception(io, "install", `java.lang.IllegalArgumentException: Error: Can't open file: ${path}`);
        }
      }
      const answer = await registry.install(apk, { allowDowngrade, grantAll });
      await io.stdout(`${answer}\n`);
      if (answer === "Success") ctx.device.log("PackageManager", `Package installed from ${path ?? "stdin"}`, 4, "system");
      return answer === "Success" ? 0 : 1;
    }
    case "uninstall": {
      const name = args.filter((a) => !a.startsWith("-")).pop() ?? "";
      const answer = registry.uninstall(name);
      await io.stdout(`${answer}\n`);
      return answer === "Success" ? 0 : 1;
    }
    case "grant":
    case "revoke": {
      const [pkg, perm] = args.filter((a) => !a.startsWith("-"));
      const p = registry.get(pkg ?? "");
      if (!p) return exception(io, verb, `java.lang.IllegalArgumentException: Unknown package: ${pkg ?? ""}`);
      if (perm === undefined || !p.requested.includes(perm)) {
        return exception(io, verb, `java.lang.SecurityException: Package ${p.name} has not requested permission ${perm ?? ""}`);
      }
      if (verb === "grant") p.granted.add(perm);
      else p.granted.delete(perm);
      return 0;
    }
    case "clear": {
      const ok = registry.clear(args.filter((a) => !a.startsWith("-")).pop() ?? "");
      await io.stdout(ok ? "Success\n" : "Failed\n");
      return ok ? 0 : 1;
    }
    case "dump": {
      const p = registry.get(args[0] ?? "");
      if (!p) return 0;
      const granted = [...p.granted].map((g) => `      ${g}: granted=true\n`).join("");
      await io.stdout(`Packages:\n  Package [${p.name}]:\n    versionCode=${p.versionCode}\n    versionName=${p.versionName}\n    codePath=${p.apkPath.replace(/\/base\.apk$/, "")}\n    runtime permissions:\n${granted}`);
      return 0;
    }
    default:
      await io.stderr(`pm: unknown command '${verb ?? ""}'\nusage: pm list packages [-f] [-3] [FILTER]\n       pm path PACKAGE\n       pm install [-d] [-g] [-S SIZE] [PATH]\n       pm uninstall PACKAGE\n       pm grant PACKAGE PERMISSION\n       pm clear PACKAGE\n`);
      return 1;
  }
};
