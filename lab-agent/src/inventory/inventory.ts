import { LabError, UsageError, type Board } from "@hil/contracts";
import type { DeviceProfile } from "@hil/device-profiles";
import { discoverSerialBoards, type DiscoveryOptions } from "../discovery/serial-discovery.js";
import type { DiscoveredBoard } from "../discovery/usb-fingerprint.js";
import { watchUsb } from "../discovery/usb-watcher.js";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { createLink } from "../links/open-link.js";
import { Rfc2217Server } from "../links/rfc2217/rfc2217-server.js";
import type { Disposable } from "../links/serial-link.js";
import type { FlashReport } from "../drivers/esp32/esp32-flash-driver.js";
import type { AndroidTarget } from "../runner/android-target.js";
import { createEsp32Target, type Esp32Target } from "../runner/esp32-target.js";
import type { VirtualAndroid } from "../virtual/android/virtual-android.js";
import { BoardControlSocket } from "../virtual/board-control-socket.js";
import type { ScenarioSpec } from "../virtual/esp32/firmware/scenario-spec.js";
import { VirtualEsp32 } from "../virtual/esp32/virtual-esp32.js";
import { AndroidBoards, type UnmatchedDevice, type UnusableState, type VirtualAndroidBoardsRequest } from "./android-boards.js";

export interface InventoryOptions {
  /** The agent's name: part of virtual board ids, so two agents' virtual boards never collide. */
  agent: string;
  profiles: Map<string, DeviceProfile>;
  log?: (msg: string) => void;
  /** Scan serial ports now and follow USB attach/detach; default false. */
  discover?: boolean;
  /** Start the agent's adb server now and register the Android devices it lists on USB; default false. */
  discoverAndroid?: boolean;
  /** Android devices on the network (`host:port`) the agent's adb server keeps connected. */
  adbConnect?: readonly string[];
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

export type VirtualAndroidRequest = VirtualAndroidBoardsRequest;

interface Entry {
  board: Board;
  profile: DeviceProfile;
  virtual?: { device: VirtualEsp32; server: Rfc2217Server; control?: BoardControlSocket };
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
  private readonly unusable = new Set<(id: string, state: UnusableState, reason: string) => void>();
  private readonly log: (msg: string) => void;
  private usbWatch: Disposable | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private rescanning: Promise<void> | undefined;
  private virtualCount = 0;
  private android: AndroidBoards | undefined;
  private closed = false;

  private constructor(private readonly opts: InventoryOptions) {
    this.log = opts.log ?? (() => undefined);
  }

  static async create(opts: InventoryOptions): Promise<Inventory> {
    const inv = new Inventory(opts);
    try {
      if (opts.discover) {
        await inv.rescan();
        inv.usbWatch = await watchUsb(() => inv.scheduleRescan(), inv.log);
      }
      const connect = opts.adbConnect ?? [];
      if (opts.discoverAndroid || connect.length > 0) {
        const android = await inv.startAndroid().catch((err: Error) => {
          // without adb this machine has no Android boards; --adb-connect cannot be honoured
          if (connect.length > 0) throw new UsageError(`--adb-connect needs the adb server (Debian's adb at /usr/bin/adb): ${err.message}`);
          inv.log(`no Android discovery: ${err.message}`);
          return undefined;
        });
        inv.android = android;
        for (const hostPort of connect) await android?.connect(hostPort);
      }
    } catch (err) {
      await inv.close();
      throw err;
    }
    return inv;
  }

  list(): Board[] {
    return [...[...this.entries.values()].map((e) => ({ ...e.board, updatedAt: Date.now() })), ...(this.android?.list() ?? [])];
  }

  get(boardId: string): Board | undefined {
    return this.entries.get(boardId)?.board ?? this.android?.get(boardId);
  }

  profileOf(boardId: string): DeviceProfile | undefined {
    return this.entries.get(boardId)?.profile ?? this.android?.profileOf(boardId);
  }

  /** Devices seen but not registered (no profile's `match` fits, not authorized), and why. */
  unmatched(): UnmatchedDevice[] {
    return this.android?.unmatched() ?? [];
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

  /** An Android board's device went offline, unauthorized or away; it comes back through onAdded. */
  onStateChanged(listener: (id: string, state: UnusableState, reason: string) => void): Disposable {
    this.unusable.add(listener);
    return { dispose: () => this.unusable.delete(listener) };
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
   * own adb server connects to, as it would to a device on the bench network; matched to a profile by
   * their properties like any device (android-virtual's `match`).
   */
  async addVirtualAndroid(req: VirtualAndroidRequest): Promise<Board[]> {
    this.android ??= await this.startAndroid();
    return this.android.addVirtual(req);
  }

  /**
   * Powers a board off and on, as a switchable USB hub port would: a virtual ESP32 power-cycles (which also
   * plugs an unplugged one back in), a virtual Android device reboots (or is plugged back in). A real board
   * needs hub port power control, which this agent does not have (no `usb` package): STEP_UNSUPPORTED.
   */
  async powerCycle(boardId: string): Promise<string> {
    if (this.android?.has(boardId)) return this.android.powerCycle(boardId);
    const entry = this.entries.get(boardId);
    if (!entry) throw new LabError("BOARD_VANISHED", `board ${boardId} is not on this agent (any more)`);
    if (entry.virtual) {
      entry.virtual.device.powerCycle();
      return "virtual board power-cycled";
    }
    throw new LabError("STEP_UNSUPPORTED", `board ${boardId}: this agent has no USB hub port power control (the usb package is not installed)`);
  }

  /** The in-process virtual Android behind an id (tests use it). */
  virtualAndroid(boardId: string): VirtualAndroid | undefined {
    return this.android?.virtualDevice(boardId);
  }

  /** Opens any board for a job: an ESP32's link, console and flash driver, or an Android's adb client and logcat. */
  async openTarget(boardId: string, opts: OpenTargetOptions = {}): Promise<Esp32Target | AndroidTarget> {
    if (this.android?.has(boardId)) return this.android.openTarget(boardId, opts);
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
      if (!e.virtual) continue;
      await e.virtual.control?.close().catch(() => undefined);
      await e.virtual.server.close().catch(() => undefined);
      e.virtual.device.dispose();
      this.entries.delete(id);
    }
    this.entries.clear();
    await this.android?.close();
    this.android = undefined;
  }

  private startAndroid(): Promise<AndroidBoards> {
    return AndroidBoards.start({
      agent: this.opts.agent,
      profiles: this.opts.profiles,
      log: this.log,
      usb: this.opts.discoverAndroid === true,
      onAdded: (board) => this.emitAdded(board),
      onUnusable: (id, state, reason) => {
        for (const l of [...this.unusable]) l(id, state, reason);
      },
    });
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
