import { LabError } from "@hil/contracts";
import type { AndroidTarget } from "../runner/android-target.js";
import type { ConsoleTarget } from "./board-consoles.js";

const nothing = { dispose: () => undefined };

/**
 * An idle Android board's "console" for the agent's BoardConsoles: its logcat, shipped into the board's
 * log like a serial console's lines. A holder's reset reboots it (and waits for the boot); typing and
 * flashing have no meaning here (adb shell and a suite's fastboot.flash step do that) and say so.
 */
export function androidConsole(target: AndroidTarget): ConsoleTarget {
  const refuse = (what: string) => Promise.reject(new LabError("STEP_UNSUPPORTED", `an Android board has no serial console to ${what}; use adb (a suite's android.shell step) or fastboot.flash`));
  return {
    console: target.console,
    link: {
      write: () => refuse("type into"),
      onClose: () => nothing,
      onData: () => nothing,
      setSignals: async () => false,
      setBaudRate: async () => undefined,
    },
    async reset(mode) {
      await target.adb.reboot(mode === "download" ? "bootloader" : "");
      if (mode === "run") await target.adb.waitForBoot(Date.now() + 120_000);
    },
    flash: () => refuse("flash through"),
    close: () => target.close(),
  };
}
