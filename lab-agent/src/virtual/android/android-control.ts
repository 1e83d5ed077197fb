import { LineCommandSocket } from "../board-control-socket.js";
import type { VirtualAndroid } from "./virtual-android.js";

export const ANDROID_CONTROL_HELP =
  "status | offline | unauthorized | online | disconnect | disconnect-after <bytes> | unplug-after <bytes> | boot-hang on|off | " +
  "install-fail <INSTALL_FAILED_…>|off | slot-fail a|b|off | reboot [bootloader] | unplug | replug | setprop <key> <value> | instrumentation <test-package> <json>";

/**
 * Faults and state changes on demand, one command per line, answered `ok …` or `error …`.
 * Shared by the control socket, the CLI and tests.
 */
export async function executeAndroidControl(dev: VirtualAndroid, line: string): Promise<string> {
  const trimmed = line.trim();
  const [cmd, ...args] = trimmed.split(/\s+/);
  switch (cmd) {
    case "status":
      return `ok ${dev.mode} adb ${dev.adbSerial} fastboot ${dev.fastbootSerial} greeting ${dev.faults.greeting}${dev.faults.bootHangs ? " boot-hang" : ""}${dev.lastError ? ` last-error ${dev.lastError}` : ""}`;
    case "offline":
    case "unauthorized":
    case "online":
      // New connections get the new greeting; existing ones are cut so the host reconnects into it.
      dev.faults.greeting = cmd === "online" ? "device" : cmd;
      dev.dropConnections();
      return `ok ${cmd}`;
    case "disconnect":
      dev.dropConnections();
      return "ok disconnected";
    case "disconnect-after": {
      const n = Number(args[0]);
      if (!Number.isInteger(n) || n < 0) return "error usage: disconnect-after <bytes>";
      dev.faults.disconnectAfterBytes = n;
      dev.faults.unplugWhenCut = false;
      return `ok disconnect after ${n} bytes`;
    }
    case "unplug-after": {
      // the cable pulled mid-transfer: the device is gone (not just the connection) until `replug`
      const n = Number(args[0]);
      if (!Number.isInteger(n) || n < 0) return "error usage: unplug-after <bytes>";
      dev.faults.disconnectAfterBytes = n;
      dev.faults.unplugWhenCut = true;
      return `ok unplug after ${n} bytes`;
    }
    case "boot-hang":
      if (args[0] !== "on" && args[0] !== "off") return "error usage: boot-hang on|off";
      dev.faults.bootHangs = args[0] === "on";
      if (!dev.faults.bootHangs) dev.finishBoot();
      return `ok boot-hang ${args[0]}`;
    case "install-fail": {
      const code = args[0];
      if (code === "off") dev.state.packages.pendingFailure = null;
      else if (code && /^INSTALL_(FAILED|PARSE_FAILED)_[A-Z_]+/.test(code)) dev.state.packages.pendingFailure = args.join(" ");
      else return "error usage: install-fail INSTALL_FAILED_<REASON> [detail] | off";
      return `ok install-fail ${code}`;
    }
    case "slot-fail": {
      // Every boot of that slot fails until `off` (A/B fallback without a broken image: docs/android.md).
      const slot = args[0];
      if (slot === "off") dev.fastboot.failingSlots.clear();
      else if (slot === "a" || slot === "b") dev.fastboot.failingSlots.add(slot);
      else return "error usage: slot-fail a|b|off";
      return `ok slot-fail ${slot}`;
    }
    case "reboot":
      await dev.reboot(args[0] === "bootloader" ? "bootloader" : "");
      return `ok ${dev.mode}`;
    case "unplug":
      await dev.unplug();
      return "ok unplugged";
    case "replug":
      await dev.replug();
      return `ok ${dev.mode}`;
    case "setprop":
      if (args.length < 2) return "error usage: setprop <key> <value>";
      dev.state.props.set(args[0]!, args.slice(1).join(" "));
      return "ok";
    case "instrumentation": {
      const pkg = args[0];
      const json = trimmed.slice(trimmed.indexOf(pkg ?? "") + (pkg?.length ?? 0)).trim();
      if (!pkg || !json) return "error usage: instrumentation <test-package> <json script>";
      try {
        dev.state.instrumentation.set(pkg, JSON.parse(json));
      } catch (err) {
        return `error bad instrumentation script: ${(err as Error).message.split("\n")[0]}`;
      }
      return `ok instrumentation ${pkg}`;
    }
    case undefined:
    case "":
      return "error empty command";
    default:
      return `error unknown command "${cmd}"; use ${ANDROID_CONTROL_HELP}`;
  }
}

/** A Unix socket taking control lines (`printf 'unauthorized\n' | socat - UNIX-CONNECT:…`). */
export class AndroidControlSocket extends LineCommandSocket {
  constructor(dev: VirtualAndroid, path: string) {
    super(path, (line) => executeAndroidControl(dev, line));
  }
}
