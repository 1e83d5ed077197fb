import { LabError, type Board } from "@hil/contracts";
import type { DeviceProfile } from "@hil/device-profiles";
import { discoverSerialBoards, type DiscoveryOptions } from "../discovery/serial-discovery.js";
import type { DiscoveredBoard } from "../discovery/usb-fingerprint.js";
import { watchUsb } from "../discovery/usb-watcher.js";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createLink } from "../links/open-link.js";
import { Rfc2217Server } from "../links/rfc2217/rfc2217-server.js";
import type { Disposable } from "../links/serial-link.js";
import { AdbClient } from "../drivers/android/adb-client.js";
import { AdbServer } from "../drivers/android/adb-server.js";
import type { FlashReport } from "../drivers/esp32/esp32-flash-driver.js";
import { AndroidTarget } from "../runner/android-target.js";
import { createEsp32Target, type Esp32Target } from "../runner/esp32-target.js";
import { VirtualAndroid } from "../virtual/android/virtual-android.js";
import { BoardControlSocket } from "../virtual/board-control-socket.js";
import type { ScenarioSpec } from "../virtual/esp32/firmware/scenario-spec.js";
import { VirtualEsp32 } from "../virtual/esp32/virtual-esp32.js";

export interface InventoryOptions {
  /** The agent's name: part of virtual board ids, so two agents' virtual boards never collide. */
  agent: string;
  profiles: Map<string, DeviceProfile>;
  log?: (msg: string) => void;
  /** Scan serial ports now and follow USB attach/detach; default false. */
  discover?: boolean;
  discovery?: DiscoveryOptions;
  /** After each successful ESP32 flash (the agent's flash metrics). */
  onFlashed?: (boardId: string, profile: string, report: FlashReport) => void;
}

export interface VirtualEsp32Request {
  count: number;
  /** Built-in scenario name or a parsed scenario; overrides the scenario a flashed image carries. Absent: the image decides. */
  scenario?: ScenarioSpec | string;
  /** Deliver bytes at the baud rate, like a real UART. */
  pace?: boolean;
  /** Default esp32-virtual. */
  profile?: string;
  /**
   * A directory for each board's control socket, `<dir>/<board id>.ctl` (reset run|download, power-cycle,
   * unplug, status: see BoardControlSocket): how a test or a script makes an agent's virtual board fail.
   */
  controlDir?: string;
}

export interface OpenTargetOptions {
  runId?: string | null;
  /** Continue the board's console sequence numbers. */
  startSeq?: number;
  /** Lines the console keeps for matching (see Esp32TargetOptions.consoleBuffer). */
  consoleBuffer?: number;
}

export interface VirtualAndroidRequest {
  count: number;
  /** Default android-virtual. */
  profile?: string;
  /** How long a boot takes until sys.boot_completed (default: the virtual device's). */
  bootDelayMs?: number;
}

interface Entry {
  board: Board;
  profile: DeviceProfile;
  virtual?: { device: VirtualEsp32; server: Rfc2217Server; control?: BoardControlSocket };
  android?: { device: VirtualAndroid; adbSerial: string; fastbootSerial: string };
}

// USB events come in bursts (a hub, a board with two interfaces): rescan once after they settle.
const RESCAN_DEBOUNCE_MS = 500;

/**
 * The boards this agent owns: serial boards found by USB identity, plus virtual ESP32s it runs
 * in-process. Virtual boards are reached through a loopback RFC 2217 server, so jobs use the same
 * link, flash and console path as a board on a remote serial server.
 */
export class Inventory {
  private readonly entries = new Map<string, Entry>();
  private readonly added = new Set<(b: Board) => void>();
  private readonly removed = new Set<(id: string, reason: string) => void>();
  private readonly log: (msg: string) => void;
  private usbWatch: Disposable | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private rescanning: Promise<void> | undefined;
  private virtualCount = 0;
  private androidCount = 0;
  private adbServer: AdbServer | undefined;
  private closed = false;

  private constructor(private readonly opts: InventoryOptions) {
    this.log = opts.log ?? (() => undefined);
  }

  static async create(opts: InventoryOptions): Promise<Inventory> {
    const inv = new Inventory(opts);
    if (opts.discover) {
      await inv.rescan();
      inv.usbWatch = await watchUsb(() => inv.scheduleRescan(), inv.log);
    }
    return inv;
  }

  list(): Board[] {
    return [...this.entries.values()].map((e) => ({ ...e.board, updatedAt: Date.now() }));
  }

  get(boardId: string): Board | undefined {
    return this.entries.get(boardId)?.board;
  }

  profileOf(boardId: string): DeviceProfile | undefined {
    return this.entries.get(boardId)?.profile;
  }

  /** The in-process virtual board behind an id (tests and the control API use it). */
  virtualDevice(boardId: string): VirtualEsp32 | undefined {
    return this.entries.get(boardId)?.virtual?.device;
  }

  onAdded(listener: (b: Board) => void): Disposable {
    this.added.add(listener);
    return { dispose: () => this.added.delete(listener) };
  }

  onRemoved(listener: (id: string, reason: string) => void): Disposable {
    this.removed.add(listener);
    return { dispose: () => this.removed.delete(listener) };
  }

  async addVirtualEsp32(req: VirtualEsp32Request): Promise<Board[]> {
    const profileId = req.profile ?? "esp32-virtual";
    const profile = this.opts.profiles.get(profileId);
    if (!profile || profile.kind !== "esp32") {
      throw new LabError("PROFILE_INVALID", `no ESP32 profile "${profileId}" is loaded; virtual ESP32 boards need one (shipped: esp32-virtual)`);
    }
    const boards: Board[] = [];
    for (let i = 0; i < req.count; i++) {
      const id = `${this.opts.agent}-vesp32-${this.virtualCount++}`;
      const device = new VirtualEsp32({
        id,
        ...(req.scenario !== undefined ? { scenario: req.scenario } : {}),
        pace: req.pace ?? false,
      });
      const server = new Rfc2217Server(device, { port: 0 });
      const { url } = await server.listen();
      device.onUnplug(() => server.disconnectClients());
      let control: BoardControlSocket | undefined;
      if (req.controlDir !== undefined) {
        mkdirSync(req.controlDir, { recursive: true });
        control = new BoardControlSocket(device, join(req.controlDir, `${id}.ctl`));
        await control.listen();
      }
      device.powerCycle();
      const board: Board = {
        id,
        profile: profileId,
        agent: this.opts.agent,
        identity: { mac: device.mac },
        state: "idle",
        labels: { ...profile.labels },
        endpoint: url,
        virtual: true,
        health: 100,
        updatedAt: Date.now(),
      };
      this.entries.set(id, { board, profile, virtual: { device, server, ...(control ? { control } : {}) } });
      boards.push(board);
      this.emitAdded(board);
      this.log(`virtual ESP32 ${id} (MAC ${device.mac}) on ${url}${control ? `, control socket ${control.path}` : ""}`);
    }
    return boards;
  }

  /**
   * Virtual Android devices hosted in this process, on loopback adb and fastboot ports that the agent's
   * own adb server connects to, as it would to a device on the bench network.
   */
  async addVirtualAndroid(req: VirtualAndroidRequest): Promise<Board[]> {
    const profileId = req.profile ?? "android-virtual";
    const profile = this.opts.profiles.get(profileId);
    if (!profile || profile.kind !== "android") {
      throw new LabError("PROFILE_INVALID", `no Android profile "${profileId}" is loaded; virtual Android boards need one (shipped: android-virtual)`);
    }
    this.adbServer ??= await AdbServer.start(this.log);
    const boards: Board[] = [];
    for (let i = 0; i < req.count; i++) {
      const id = `${this.opts.agent}-vandroid-${this.androidCount++}`;
      const device = new VirtualAndroid({ id, ...(req.bootDelayMs !== undefined ? { bootDelayMs: req.bootDelayMs } : {}) });
      await device.start();
      const adbSerial = `127.0.0.1:${device.adbPort}`;
      const fastbootSerial = `tcp:127.0.0.1:${device.fastbootPort}`;
      await this.adbServer.connect(adbSerial);
      const board: Board = {
        id,
        profile: profileId,
        agent: this.opts.agent,
        identity: { adbSerial },
        state: "idle",
        labels: { ...profile.labels },
        endpoint: `adb:${adbSerial}`,
        virtual: true,
        health: 100,
        updatedAt: Date.now(),
      };
      this.entries.set(id, { board, profile, android: { device, adbSerial, fastbootSerial } });
      boards.push(board);
      this.emitAdded(board);
      this.log(`virtual Android ${id} on adb ${adbSerial}, fastboot ${fastbootSerial}`);
    }
    return boards;
  }

  /**
   * Powers a board off and on, as a switchable USB hub port would: a virtual ESP32 power-cycles (which also
   * plugs an unplugged one back in), a virtual Android device reboots (or is plugged back in). A real board
   * needs hub port power control, which this agent does not have (no `usb` package): STEP_UNSUPPORTED.
   */
  async powerCycle(boardId: string): Promise<string> {
    const entry = this.entries.get(boardId);
    if (!entry) throw new LabError("BOARD_VANISHED", `board ${boardId} is not on this agent (any more)`);
    if (entry.virtual) {
      entry.virtual.device.powerCycle();
      return "virtual board power-cycled";
    }
    if (entry.android) {
      const dev = entry.android.device;
      if (dev.mode === "unplugged") await dev.replug();
      else await dev.reboot("");
      return "virtual device power-cycled (rebooted)";
    }
    throw new LabError("STEP_UNSUPPORTED", `board ${boardId}: this agent has no USB hub port power control (the usb package is not installed)`);
  }

  /** The in-process virtual Android behind an id (tests use it). */
  virtualAndroid(boardId: string): VirtualAndroid | undefined {
    return this.entries.get(boardId)?.android?.device;
  }

  /** Opens any board for a job: an ESP32's link, console and flash driver, or an Android's adb client and logcat. */
  async openTarget(boardId: string, opts: OpenTargetOptions = {}): Promise<Esp32Target | AndroidTarget> {
    const entry = this.entries.get(boardId);
    if (entry?.android && entry.profile.kind === "android") {
      const server = this.adbServer;
      if (!server) throw new LabError("LINK_OPEN_FAILED", "the agent's adb server is not running");
      const adb = new AdbClient({ serial: entry.android.adbSerial, serverPort: server.port, env: server.env, fastbootSerial: entry.android.fastbootSerial });
      return AndroidTarget.open({
        boardId,
        capabilities: entry.profile.capabilities,
        adb,
        ...(opts.startSeq !== undefined ? { startSeq: opts.startSeq } : {}),
        ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
      });
    }
    return this.openEsp32(boardId, opts);
  }

  /** Opens an ESP32 board: its link, console capture and flash driver. */
  async openEsp32(boardId: string, opts: OpenTargetOptions = {}): Promise<Esp32Target> {
    const entry = this.entries.get(boardId);
    if (!entry) throw new LabError("BOARD_VANISHED", `board ${boardId} is not on this agent (any more); it may have been unplugged`);
    if (entry.profile.kind !== "esp32") {
      throw new LabError("STEP_UNSUPPORTED", `board ${boardId} is a ${entry.profile.kind} board, not an ESP32`);
    }
    const endpoint = entry.board.endpoint;
    if (!endpoint) throw new LabError("BOARD_VANISHED", `board ${boardId} has no port to open`);
    const link = createLink(endpoint, { baudRate: entry.profile.serial.baud });
    try {
      return await createEsp32Target({
        boardId,
        profile: entry.profile,
        link,
        ...(entry.board.identity.mac !== undefined ? { expectedMac: entry.board.identity.mac } : {}),
        ...(opts.startSeq !== undefined ? { startSeq: opts.startSeq } : {}),
        ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
        ...(opts.consoleBuffer !== undefined ? { consoleBuffer: opts.consoleBuffer } : {}),
        logger: (m) => this.log(`${boardId}: ${m}`),
        onFlashed: (report) => {
          // A discovered board's MAC is known after its first flash; from then on every flash re-checks it.
          if (entry.board.identity.mac === undefined && /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(report.mac)) {
            entry.board = { ...entry.board, identity: { ...entry.board.identity, mac: report.mac }, updatedAt: Date.now() };
            this.log(`${boardId}: learned MAC ${report.mac}; later flashes refuse a different board on this port`);
          }
          this.opts.onFlashed?.(boardId, entry.profile.id, report);
        },
      });
    } catch (err) {
      if (link.isOpen) await link.close().catch(() => undefined);
      if (err instanceof LabError) throw err;
      throw new LabError("LINK_OPEN_FAILED", `cannot open ${endpoint} for board ${boardId}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Re-reads the serial ports: new boards are added, vanished ones removed. */
  async rescan(): Promise<void> {
    if (this.rescanning) return this.rescanning;
    this.rescanning = this.doRescan().finally(() => {
      this.rescanning = undefined;
    });
    return this.rescanning;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    this.usbWatch?.dispose();
    for (const [id, e] of this.entries) {
      if (e.android) await e.android.device.stop().catch(() => undefined);
      if (!e.virtual) continue;
      await e.virtual.control?.close().catch(() => undefined);
      await e.virtual.server.close().catch(() => undefined);
      e.virtual.device.dispose();
      this.entries.delete(id);
    }
    this.entries.clear();
    await this.adbServer?.stop();
    this.adbServer = undefined;
  }

  private scheduleRescan(): void {
    if (this.closed) return;
    if (this.rescanTimer) clearTimeout(this.rescanTimer);
    this.rescanTimer = setTimeout(() => {
      this.rescan().catch((err: unknown) => this.log(`serial rescan failed: ${(err as Error).message}`));
    }, RESCAN_DEBOUNCE_MS);
  }

  private async doRescan(): Promise<void> {
    let found: DiscoveredBoard[];
    try {
      found = await discoverSerialBoards(this.opts.profiles.values(), this.opts.discovery);
    } catch (err) {
      this.log(`listing serial ports failed (${(err as Error).message}); is udevadm installed?`);
      return;
    }
    const seen = new Set(found.map((d) => d.id));
    for (const [id, e] of this.entries) {
      if (e.virtual || seen.has(id)) continue;
      this.entries.delete(id);
      for (const l of [...this.removed]) l(id, "unplugged (gone from the serial port list)");
    }
    for (const d of found) {
      if (this.entries.has(d.id)) continue;
      const profile = this.opts.profiles.get(d.profile);
      if (!profile) continue;
      const board: Board = {
        id: d.id,
        profile: d.profile,
        agent: this.opts.agent,
        identity: d.identity,
        state: "idle",
        labels: { ...profile.labels },
        endpoint: d.endpoint,
        virtual: false,
        health: 100,
        updatedAt: Date.now(),
      };
      this.entries.set(d.id, { board, profile });
      if (d.alsoMatches.length > 0) this.log(`${d.endpoint} also fits profiles ${d.alsoMatches.join(", ")}; using ${d.profile}`);
      this.emitAdded(board);
    }
  }

  private emitAdded(board: Board): void {
    for (const l of [...this.added]) l(board);
  }
}
