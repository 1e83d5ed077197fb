import { adbPortProblem, describeAndroidBoard, startVirtualAndroidFleet, type VirtualAndroidFleetOptions } from "@hil/lab-agent";
import type { Command } from "commander";
import { untilStopSignal } from "../stop-signal.js";
import { UsageError } from "@hil/contracts";

interface VirtualAndroidCliOptions {
  count: string;
  adbPort?: string;
  fastbootPort?: string;
  host?: string;
  control?: string;
  bootDelay: string;
}

/** `hil virtual android`: a subcommand of the `virtual` group that `virtual.ts` creates. */
export function registerVirtualAndroid(virtual: Command): void {
  virtual
    .command("android")
    .description("Start virtual Android boards: adbd over TCP for `adb connect`, fastboot over TCP after `adb reboot bootloader`")
    .option("--count <n>", "how many boards", "1")
    .option("--adb-port <port>", "first adbd port; the others follow (default: free ports; never 5555–5585)")
    .option("--fastboot-port <port>", "first fastboot port; the others follow (default: free ports)")
    .option("--host <addr>", "address the ports listen on", "127.0.0.1")
    .option("--control <dir>", "control sockets <dir>/android-N.ctl for faults (offline, unauthorized, disconnect-after, boot-hang, install-fail …)")
    .option("--boot-delay <ms>", "milliseconds from power-on to sys.boot_completed=1", "1500")
    .action(async (opts: VirtualAndroidCliOptions) => {
      const fleet = await startVirtualAndroidFleet(toFleetOptions(opts));
      for (const b of fleet.boards) process.stdout.write(`${describeAndroidBoard(b)}\n`);
      process.stdout.write(`${fleet.boards.length} virtual Android board(s) running; Ctrl-C to stop\n`);
      await untilStopSignal();
      await fleet.stop();
      process.stdout.write("stopped\n");
    });
}

function port(name: string, value: string | undefined, count: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n + count - 1 > 65535) throw new UsageError(`${name} must be a TCP port with room for ${count} consecutive ports, not "${value}"`);
  return n;
}

function toFleetOptions(opts: VirtualAndroidCliOptions): VirtualAndroidFleetOptions {
  const count = Number(opts.count);
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new UsageError(`--count must be a whole number from 1 to 64, not "${opts.count}"`);
  const adbPort = port("--adb-port", opts.adbPort, count);
  if (adbPort !== undefined) {
    const problem = adbPortProblem(adbPort, count);
    if (problem) throw new UsageError(`--adb-port ${adbPort} ${problem}`);
  }
  const fastbootPort = port("--fastboot-port", opts.fastbootPort, count);
  const bootDelayMs = Number(opts.bootDelay);
  if (!Number.isInteger(bootDelayMs) || bootDelayMs < 0) throw new UsageError(`--boot-delay must be a whole number of milliseconds, not "${opts.bootDelay}"`);
  return {
    count,
    bootDelayMs,
    ...(adbPort !== undefined ? { adbPort } : {}),
    ...(fastbootPort !== undefined ? { fastbootPort } : {}),
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.control !== undefined ? { controlDir: opts.control } : {}),
  };
}
