import { join } from "node:path";
import { LabError } from "@hil/contracts";
import { AndroidControlSocket } from "./android-control.js";
import { VirtualAndroid } from "./virtual-android.js";

export interface VirtualAndroidFleetOptions {
  count?: number;
  /** First adbd port; the others follow. Unset/0: free ports. Never 5555–5585 (adb's emulator scan). */
  adbPort?: number;
  /** First fastboot port; the others follow. Unset/0: free ports. */
  fastbootPort?: number;
  host?: string;
  /** Directory for control sockets `android-0.ctl`, … */
  controlDir?: string;
  bootDelayMs?: number;
  /** Board ids are `<idPrefix>-<n>`. Default "android". */
  idPrefix?: string;
}

export interface AndroidFleetBoard {
  id: string;
  board: VirtualAndroid;
  controlPath?: string;
}

export interface VirtualAndroidFleet {
  boards: AndroidFleetBoard[];
  stop(): Promise<void>;
}

/** Why a first port cannot host `count` boards, or null. */
export function adbPortProblem(port: number, count: number): string | null {
  if (!Number.isInteger(port) || port < 1 || port + count - 1 > 65535) return `must be a TCP port with room for ${count} consecutive ports`;
  if (port <= 5585 && port + count - 1 >= 5555) return "must stay outside 5555–5585, which the adb server scans as emulators";
  return null;
}

/** One line per board, as `hil virtual android` prints it. */
export function describeAndroidBoard(b: AndroidFleetBoard): string {
  const id = b.board.state.identity;
  const ctl = b.controlPath !== undefined ? `  control ${b.controlPath}` : "";
  return `${b.id}  serial ${id.serial}  adb connect ${b.board.adbSerial}  fastboot -s ${b.board.fastbootSerial}${ctl}`;
}

/** Starts N virtual Android boards booted into Android, each with its adb and fastboot port. */
export async function startVirtualAndroidFleet(opts: VirtualAndroidFleetOptions = {}): Promise<VirtualAndroidFleet> {
  const count = opts.count ?? 1;
  if (opts.adbPort) {
    const problem = adbPortProblem(opts.adbPort, count);
    if (problem) throw new LabError("USAGE", `adb port ${opts.adbPort} ${problem}`);
  }
  const boards: AndroidFleetBoard[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    for (let i = 0; i < count; i++) {
      const id = `${opts.idPrefix ?? "android"}-${i}`;
      const board = new VirtualAndroid({
        id,
        ...(opts.host !== undefined ? { host: opts.host } : {}),
        ...(opts.adbPort ? { adbPort: opts.adbPort + i } : {}),
        ...(opts.fastbootPort ? { fastbootPort: opts.fastbootPort + i } : {}),
        ...(opts.bootDelayMs !== undefined ? { bootDelayMs: opts.bootDelayMs } : {}),
      });
      await board.start();
      cleanups.push(() => board.stop());
      const entry: AndroidFleetBoard = { id, board };
      if (opts.controlDir !== undefined) {
        const control = new AndroidControlSocket(board, join(opts.controlDir, `${id}.ctl`));
        await control.listen();
        cleanups.push(() => control.close());
        entry.controlPath = control.path;
      }
      boards.push(entry);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { boards, stop };
}
