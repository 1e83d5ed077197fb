import { join } from "node:path";
import { Rfc2217Server } from "../../links/rfc2217/rfc2217-server.js";
import { BoardControlSocket } from "../board-control-socket.js";
import { PtyExposure } from "../pty-exposure.js";
import { loadScenario, type ScenarioManifest, type ScenarioSpec } from "./firmware/index.js";
import { VirtualEsp32 } from "./virtual-esp32.js";

export interface VirtualEsp32FleetOptions {
  count?: number;
  /** First RFC 2217 port; the others follow consecutively. Undefined/0: free ports. */
  rfc2217Port?: number;
  /** Bind address for RFC 2217; default 127.0.0.1. */
  host?: string;
  /** Directory for PTY links `esp32-0`, `esp32-1`, … and their `.ctl` control sockets. */
  ptyDir?: string;
  flashSize?: number;
  scenario?: ScenarioSpec | string;
  manifest?: ScenarioManifest;
  pace?: boolean;
  /** Board ids are `<idPrefix>-<n>`; the default MAC is derived from the id. Default "esp32". */
  idPrefix?: string;
}

export interface FleetBoard {
  id: string;
  board: VirtualEsp32;
  mac: string;
  rfc2217Url: string;
  ptyPath?: string;
  controlPath?: string;
}

export interface VirtualEsp32Fleet {
  boards: FleetBoard[];
  stop(): Promise<void>;
}

/** One line per board, as `hil virtual esp32` prints it. */
export function describeFleetBoard(b: FleetBoard): string {
  const pty = b.ptyPath !== undefined ? `  pty ${b.ptyPath}` : "";
  return `${b.id}  mac ${b.mac}  ${b.rfc2217Url}${pty}`;
}

/**
 * Starts N virtual ESP32 boards, each on an RFC 2217 port and optionally a PTY with a control
 * socket, powered on into their firmware. In-process entry point for the lab agent and `npm run lab`.
 */
export async function startVirtualEsp32Fleet(opts: VirtualEsp32FleetOptions = {}): Promise<VirtualEsp32Fleet> {
  const count = opts.count ?? 1;
  const scenario = typeof opts.scenario === "string" ? loadScenario(opts.scenario) : opts.scenario;
  const cleanups: (() => Promise<void>)[] = [];
  const boards: FleetBoard[] = [];
  const stop = async (): Promise<void> => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  };
  try {
    for (let i = 0; i < count; i++) {
      const id = `${opts.idPrefix ?? "esp32"}-${i}`;
      const board = new VirtualEsp32({
        id,
        ...(opts.flashSize !== undefined ? { flashSize: opts.flashSize } : {}),
        ...(scenario !== undefined ? { scenario } : {}),
        ...(opts.manifest !== undefined ? { manifest: opts.manifest } : {}),
        pace: opts.pace ?? false,
      });
      cleanups.push(async () => board.dispose());
      const port = opts.rfc2217Port ? opts.rfc2217Port + i : 0;
      const server = new Rfc2217Server(board, { port, ...(opts.host !== undefined ? { host: opts.host } : {}) });
      const { url } = await server.listen();
      cleanups.push(() => server.close());
      const entry: FleetBoard = { id, board, mac: board.mac, rfc2217Url: url };
      let pty: PtyExposure | undefined;
      if (opts.ptyDir !== undefined) {
        pty = new PtyExposure(board, join(opts.ptyDir, id));
        await pty.start();
        const exposure = pty;
        cleanups.push(() => exposure.stop());
        const control = new BoardControlSocket(board, `${exposure.path}.ctl`, {
          onUnplug: () => exposure.stop(),
          onReplug: async () => {
            if (!exposure.running) await exposure.start();
          },
        });
        await control.listen();
        cleanups.push(() => control.close());
        entry.ptyPath = exposure.path;
        entry.controlPath = control.path;
      }
      const unplugSub = board.onUnplug(() => {
        server.disconnectClients();
        void pty?.stop();
      });
      cleanups.push(async () => unplugSub.dispose());
      boards.push(entry);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  for (const b of boards) b.board.powerCycle();
  return { boards, stop };
}
