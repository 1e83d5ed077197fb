import { describeFleetBoard, loadScenario, loadScenarioManifest, parseFlashSize, startVirtualEsp32Fleet, type VirtualEsp32FleetOptions } from "@hil/lab-agent";
import type { Command } from "commander";
import { registerVirtualAndroid } from "./virtual-android.js";
import { untilStopSignal } from "../stop-signal.js";
import { UsageError } from "@hil/contracts";

interface VirtualEsp32CliOptions {
  count: string;
  rfc2217Port?: string;
  host?: string;
  pty?: string;
  flashSize: string;
  scenario?: string;
  manifest?: string;
  pace?: boolean;
}

export function register(program: Command): void {
  const virtual = program.command("virtual").description("Run virtual boards that real flashing tools cannot tell from hardware");
  virtual
    .command("esp32")
    .description("Start virtual ESP32 boards (ROM loader + stub, boot log, firmware scenarios) on RFC 2217 ports and PTYs")
    .option("--count <n>", "how many boards", "1")
    .option("--rfc2217-port <port>", "first RFC 2217 port; the others follow (default: free ports)")
    .option("--host <addr>", "address the RFC 2217 ports listen on", "127.0.0.1")
    .option("--pty <dir>", "also expose each board as a PTY <dir>/esp32-N, with a control socket <dir>/esp32-N.ctl")
    .option("--flash-size <size>", "flash size, e.g. 4MB, 8MB, 16MB", "4MB")
    .option("--scenario <name|file>", "firmware scenario: a built-in name or a JSON/YAML file")
    .option("--manifest <file>", "scenario manifest: image SHA-256 → scenario")
    .option("--pace", "deliver bytes no faster than the board's baud rate")
    .action(async (opts: VirtualEsp32CliOptions) => {
      const fleetOpts = toFleetOptions(opts);
      const fleet = await startVirtualEsp32Fleet(fleetOpts);
      for (const b of fleet.boards) process.stdout.write(`${describeFleetBoard(b)}\n`);
      process.stdout.write(`${fleet.boards.length} virtual ESP32 board(s) running; Ctrl-C to stop\n`);
      await untilStopSignal();
      await fleet.stop();
      process.stdout.write("stopped\n");
    });
  registerVirtualAndroid(virtual);
}

function toFleetOptions(opts: VirtualEsp32CliOptions): VirtualEsp32FleetOptions {
  const count = Number(opts.count);
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new UsageError(`--count must be a whole number from 1 to 64, not "${opts.count}"`);
  let rfc2217Port: number | undefined;
  if (opts.rfc2217Port !== undefined) {
    rfc2217Port = Number(opts.rfc2217Port);
    if (!Number.isInteger(rfc2217Port) || rfc2217Port < 1 || rfc2217Port + count - 1 > 65535) {
      throw new UsageError(`--rfc2217-port must be a TCP port with room for ${count} consecutive ports, not "${opts.rfc2217Port}"`);
    }
  }
  const flashSize = parseFlashSize(opts.flashSize);
  if (flashSize === null) throw new UsageError(`--flash-size "${opts.flashSize}" is not a power-of-two size such as 2MB, 4MB or 16MB`);
  let scenario;
  if (opts.scenario !== undefined) {
    try {
      scenario = loadScenario(opts.scenario);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  let manifest;
  if (opts.manifest !== undefined) {
    try {
      manifest = loadScenarioManifest(opts.manifest);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return {
    count,
    ...(manifest !== undefined ? { manifest } : {}),
    flashSize,
    pace: opts.pace ?? false,
    ...(rfc2217Port !== undefined ? { rfc2217Port } : {}),
    ...(opts.host !== undefined ? { host: opts.host } : {}),
    ...(opts.pty !== undefined ? { ptyDir: opts.pty } : {}),
    ...(scenario !== undefined ? { scenario } : {}),
  };
}
