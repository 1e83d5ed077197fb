import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { LabError, type Board } from "@hil/contracts";
import type { AndroidProfile, DeviceProfile } from "@hil/device-profiles";
import { AdbDeviceTracker } from "../discovery/adb-device-tracker.js";
import { describeAndroid, matchAndroidProfile, type AndroidProperties } from "../discovery/android-match.js";
import { boardIdFrom } from "../discovery/usb-fingerprint.js";
import { AdbClient } from "../drivers/android/adb-client.js";
import { AdbServer } from "../drivers/android/adb-server.js";
import { runTool } from "../drivers/android/run-tool.js";
import { AndroidTarget } from "../runner/android-target.js";
import { AndroidControlSocket } from "../virtual/android/android-control.js";
import { androidBoard, identityDiff, readAndroidProperties } from "./android-identity.js";
import { VirtualAndroid } from "../virtual/android/virtual-android.js";

const ADB = "/usr/bin/adb";
/** How often the `host:port` devices that are not attached are connected again. */
const RECONNECT_EVERY_MS = 2000;
/** A TCP device stuck offline or unauthorized this long is disconnected and connected afresh. */
const STUCK_MS = 5000;

export type UnusableState = "offline" | "unauthorized";

/** A device the agent sees but registers no board for, and why (shown in the agent's heartbeat and log). */
export interface UnmatchedDevice {
  serial: string;
  state: string;
  reason: string;
}

export interface AndroidBoardsOptions {
  agent: string;
  profiles: Map<string, DeviceProfile>;
  log: (msg: string) => void;
  /** Register any device the adb server lists (USB); false: only `connect` endpoints and virtual devices. */
  usb: boolean;
  /** A device was matched and registered, or came back as `device` (same identity): idle. */
  onAdded: (board: Board) => void;
  /** A registered device went offline, unauthorized or away. */
  onUnusable: (boardId: string, state: UnusableState, reason: string) => void;
}

export interface VirtualAndroidBoardsRequest {
  count: number;
  /** Forces this profile; default: the profile whose `match` fits (android-virtual for the stock virtual phone). */
  profile?: string;
  bootDelayMs?: number;
  /** A control socket per device, `<dir>/<board id>.ctl` (the lines of `hil virtual android`'s sockets). */
  controlDir?: string;
}

/** A `host:port` the agent keeps attached: from `--adb-connect`, or a virtual device it hosts. */
interface Endpoint {
  serial: string;
  id?: string;
  profile?: string;
  fastbootSerial?: string;
  virtual?: { device: VirtualAndroid; control?: AndroidControlSocket };
  connecting: boolean;
  lastAttempt: number;
}

interface Entry {
  board: Board;
  profile: AndroidProfile;
  serial: string;
  fastbootSerial: string | undefined;
  /** What the agent was last told. */
  reported: "idle" | UnusableState;
  /** Run targets open on the board. adb state changes wait until they close: a step may reboot the device on purpose. */
  runs: number;
  /** A run's identity check found another device on this serial: re-identified once the run lets go. */
  replaced?: string;
  /** Idle consoles waiting for the device to boot: given up when it becomes unusable. */
  consoleOpens: Set<AbortController>;
  settling: Promise<void>;
}

/**
 * The Android half of the inventory: the agent's own adb server, the devices it lists (tracked with
 * @devicefarmer/adbkit), each matched to a profile by its properties and registered as a board, and the
 * `host:port` devices kept connected. `offline`, `unauthorized` and a device that left are board states,
 * reported through `onUnusable`; a device back as `device` with the same identity is idle again.
 */
export class AndroidBoards {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly entries = new Map<string, Entry>();
  private readonly unmatchedDevices = new Map<string, UnmatchedDevice>();
  private readonly identifying = new Map<string, Promise<void>>();
  /** Devices whose properties could not be read: tried again while adb lists them as `device`. */
  private readonly unreadable = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private virtualCount = 0;
  private closed = false;

  private constructor(
    private readonly opts: AndroidBoardsOptions,
    private readonly server: AdbServer,
    private readonly tracker: AdbDeviceTracker,
  ) {
    tracker.onChange((serial, state) => this.deviceChanged(serial, state));
    this.timer = setInterval(() => this.tick(), RECONNECT_EVERY_MS);
    this.timer.unref();
  }

  static async start(opts: AndroidBoardsOptions): Promise<AndroidBoards> {
    const server = await AdbServer.start(opts.log);
    const tracker = new AdbDeviceTracker({ port: server.port, log: opts.log });
    const boards = new AndroidBoards(opts, server, tracker);
    tracker.start();
    return boards;
  }

  list(): Board[] {
    return [...this.entries.values()].map((e) => ({ ...e.board, state: e.reported, updatedAt: Date.now() }));
  }

  has(boardId: string): boolean {
    return this.entries.has(boardId);
  }

  get(boardId: string): Board | undefined {
    return this.entries.get(boardId)?.board;
  }

  profileOf(boardId: string): AndroidProfile | undefined {
    return this.entries.get(boardId)?.profile;
  }

  unmatched(): UnmatchedDevice[] {
    return [...this.unmatchedDevices.values()];
  }

  virtualDevice(boardId: string): VirtualAndroid | undefined {
    const serial = this.entries.get(boardId)?.serial;
    return serial === undefined ? undefined : this.endpoints.get(serial)?.virtual?.device;
  }

  /** Keeps `host:port` attached (connected now and whenever it drops); its board appears once it is matched. */
  async connect(hostPort: string, extra: Partial<Omit<Endpoint, "serial" | "connecting" | "lastAttempt">> = {}): Promise<void> {
    const ep: Endpoint = { serial: hostPort, connecting: true, lastAttempt: Date.now(), ...extra };
    this.endpoints.set(hostPort, ep);
    try {
      await this.attach(ep, false);
    } finally {
      ep.connecting = false;
    }
  }

  /** Virtual devices in this process, each on loopback ports the agent's adb server connects to, as to a bench device. */
  async addVirtual(req: VirtualAndroidBoardsRequest): Promise<Board[]> {
    if (req.profile !== undefined && this.opts.profiles.get(req.profile)?.kind !== "android") {
      throw new LabError("PROFILE_INVALID", `no Android profile "${req.profile}" is loaded; virtual Android boards need one (shipped: android-virtual)`);
    }
    const boards: Board[] = [];
    for (let i = 0; i < req.count; i++) {
      const id = `${this.opts.agent}-vandroid-${this.virtualCount++}`;
      const device = new VirtualAndroid({ id, ...(req.bootDelayMs !== undefined ? { bootDelayMs: req.bootDelayMs } : {}) });
      await device.start();
      let control: AndroidControlSocket | undefined;
      if (req.controlDir !== undefined) {
        mkdirSync(req.controlDir, { recursive: true });
        control = new AndroidControlSocket(device, join(req.controlDir, `${id}.ctl`));
        await control.listen();
      }
      await this.connect(device.adbSerial, {
        id,
        fastbootSerial: device.fastbootSerial,
        virtual: { device, ...(control ? { control } : {}) },
        ...(req.profile !== undefined ? { profile: req.profile } : {}),
      });
      const deadline = Date.now() + 60_000;
      while (!this.entries.has(id) && Date.now() < deadline) await delay(50);
      const entry = this.entries.get(id);
      if (!entry) {
        const why = this.unmatchedDevices.get(device.adbSerial)?.reason ?? `adb lists it as ${this.tracker.state(device.adbSerial)}`;
        throw new LabError("PROFILE_INVALID", `virtual Android ${id} was not registered within 60 s: ${why}`);
      }
      boards.push(entry.board);
      this.opts.log(`virtual Android ${id} on adb ${device.adbSerial}, fastboot ${device.fastbootSerial}${control ? `, control socket ${control.path}` : ""}`);
    }
    return boards;
  }

  /**
   * A board's target. For a run (`runId` a string) the device must be attached as `device` and answer with the
   * identity it was registered with; otherwise the run fails as an infrastructure error and is retried elsewhere.
   */
  async openTarget(boardId: string, opts: { runId?: string | null; startSeq?: number }): Promise<AndroidTarget> {
    const entry = this.entries.get(boardId);
    if (!entry) throw new LabError("BOARD_VANISHED", `board ${boardId} is not on this agent (any more)`);
    const adb = this.client(entry.serial, entry.fastbootSerial);
    const common = {
      boardId,
      capabilities: entry.profile.capabilities,
      adb,
      ...(opts.startSeq !== undefined ? { startSeq: opts.startSeq } : {}),
      ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
    };
    const state = this.tracker.state(entry.serial);
    if (typeof opts.runId !== "string") {
      // an idle console: not for a device adb does not list as attached (its board is offline or about to be)
      if (state !== "device") throw new LabError("LINK_CLOSED", `board ${boardId}: adb lists ${entry.serial} as ${state}; its console opens when it is back`);
      const opening = new AbortController();
      entry.consoleOpens.add(opening);
      try {
        return await AndroidTarget.open({ ...common, signal: opening.signal });
      } finally {
        entry.consoleOpens.delete(opening);
      }
    }
    if (state !== "device") {
      throw new LabError(state === "gone" ? "BOARD_VANISHED" : "LINK_CLOSED", `board ${boardId}: adb lists ${entry.serial} as ${state}, not device; the run goes to another board`);
    }
    entry.runs++;
    let released = false;
    const target = await AndroidTarget.open({
      ...common,
      onClose: () => {
        if (released) return;
        released = true;
        entry.runs--;
        if (entry.runs === 0) this.settle(entry);
      },
    });
    try {
      await this.checkIdentity(entry);
    } catch (err) {
      await target.close();
      throw err;
    }
    return target;
  }

  /** A virtual device reboots (or is plugged back in); a real one would need hub port power control. */
  async powerCycle(boardId: string): Promise<string> {
    const dev = this.virtualDevice(boardId);
    if (!dev) throw new LabError("STEP_UNSUPPORTED", `board ${boardId}: this agent has no USB hub port power control for an Android device`);
    if (dev.mode === "unplugged") await dev.replug();
    else await dev.reboot("");
    return "virtual device power-cycled (rebooted)";
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.tracker.stop();
    for (const ep of this.endpoints.values()) {
      await ep.virtual?.control?.close().catch(() => undefined);
      await ep.virtual?.device.stop().catch(() => undefined);
    }
    this.endpoints.clear();
    this.entries.clear();
    await this.server.stop();
  }

  private client(serial: string, fastbootSerial?: string): AdbClient {
    return new AdbClient({ serial, serverPort: this.server.port, env: this.server.env, ...(fastbootSerial !== undefined ? { fastbootSerial } : {}) });
  }

  private entryBySerial(serial: string): Entry | undefined {
    for (const e of this.entries.values()) if (e.serial === serial) return e;
    return undefined;
  }

  private wanted(serial: string): boolean {
    return this.opts.usb || this.endpoints.has(serial);
  }

  private deviceChanged(serial: string, state: string): void {
    if (this.closed) return;
    const entry = this.entryBySerial(serial);
    if (entry) {
      this.settle(entry);
      return;
    }
    if (state === "gone") this.unmatchedDevices.delete(serial);
    else if (!this.wanted(serial)) return;
    else if (state === "device") void this.identify(serial);
    else if (state === "unauthorized") {
      const reason = `${serial} does not accept this agent's adb key: allow USB debugging for this computer on the device`;
      this.unmatchedDevices.set(serial, { serial, state, reason });
      this.opts.log(`Android device ${reason}`);
    }
  }

  /** Brings the board's reported state in line with adb's, one change at a time; nothing while a run holds it. */
  private settle(entry: Entry): void {
    entry.settling = entry.settling.then(() => this.settleNow(entry)).catch((err: Error) => this.opts.log(`${entry.board.id}: ${err.message}`));
  }

  private async settleNow(entry: Entry): Promise<void> {
    if (this.closed || entry.runs > 0 || this.entries.get(entry.board.id) !== entry) return;
    const state = this.tracker.state(entry.serial);
    if (entry.replaced !== undefined) {
      this.entries.delete(entry.board.id);
      this.report(entry, "offline", entry.replaced);
      if (state === "device") void this.identify(entry.serial);
      return;
    }
    if (state !== "device") {
      const next: UnusableState = state === "unauthorized" ? "unauthorized" : "offline";
      if (entry.reported === next) return;
      const reason =
        state === "gone"
          ? `${entry.serial} is no longer attached to adb (unplugged, powered off or off the network)`
          : state === "unauthorized"
            ? `${entry.serial} does not accept this agent's adb key: allow USB debugging for this computer on the device`
            : `adb lists ${entry.serial} as ${state}`;
      this.report(entry, next, reason);
      return;
    }
    if (entry.reported === "idle") return;
    // back as `device`: the same phone, or another one on this serial (a TCP address reused)?
    const props = await this.readProperties(entry.serial);
    if (this.tracker.state(entry.serial) !== "device" || entry.runs > 0) return;
    const diff = identityDiff(entry.board, props);
    if (diff !== undefined) {
      entry.replaced = `another device answers on ${entry.serial}: ${diff}`;
      return this.settleNow(entry);
    }
    entry.reported = "idle";
    entry.board = { ...entry.board, state: "idle", updatedAt: Date.now() };
    this.opts.log(`Android ${entry.board.id} is back on adb ${entry.serial}`);
    this.opts.onAdded(entry.board);
  }

  private report(entry: Entry, state: UnusableState, reason: string): void {
    for (const opening of entry.consoleOpens) opening.abort();
    entry.reported = state;
    entry.board = { ...entry.board, state, updatedAt: Date.now() };
    this.opts.log(`Android ${entry.board.id} ${state}: ${reason}`);
    this.opts.onUnusable(entry.board.id, state, reason);
  }

  private identify(serial: string): Promise<void> {
    const running = this.identifying.get(serial);
    if (running) return running;
    const work = this.identifyNow(serial)
      .catch((err: Error) => {
        const first = !this.unreadable.has(serial);
        this.unreadable.add(serial);
        this.unmatchedDevices.set(serial, { serial, state: this.tracker.state(serial), reason: `its properties could not be read: ${err.message}` });
        if (first) this.opts.log(`Android device ${serial}: its properties could not be read (${err.message}); trying again`);
      })
      .finally(() => this.identifying.delete(serial));
    this.identifying.set(serial, work);
    return work;
  }

  private async identifyNow(serial: string): Promise<void> {
    const props = await this.readProperties(serial);
    this.unreadable.delete(serial);
    if (this.closed || this.tracker.state(serial) !== "device" || this.entryBySerial(serial)) return;
    const ep = this.endpoints.get(serial);
    const forced = ep?.profile !== undefined ? this.opts.profiles.get(ep.profile) : undefined;
    const match = forced?.kind === "android" ? { profile: forced, alsoMatches: [] } : matchAndroidProfile(props, this.opts.profiles.values());
    if (!match.profile) {
      this.unmatchedDevices.set(serial, { serial, state: "device", reason: match.reason });
      this.opts.log(`Android device ${serial} not registered: ${match.reason}`);
      return;
    }
    this.unmatchedDevices.delete(serial);
    const profile = match.profile;
    if (match.alsoMatches.length > 0) this.opts.log(`Android device ${serial} also fits profiles ${match.alsoMatches.join(", ")}; using ${profile.id}`);
    const board = androidBoard({ id: ep?.id ?? boardIdFrom(profile.id, serial), agent: this.opts.agent, serial, profile, props, virtual: ep?.virtual !== undefined });
    const tcp = /^[\w.-]+:\d+$/.test(serial);
    // a USB device's bootloader answers fastboot under the same serial; a TCP one's only where we were told
    const fastbootSerial = ep?.fastbootSerial ?? (tcp ? undefined : props.serialno || serial);
    this.entries.set(board.id, { board, profile, serial, fastbootSerial, reported: "idle", runs: 0, settling: Promise.resolve(), consoleOpens: new Set() });
    this.opts.log(`Android ${board.id}: ${describeAndroid(props)} on adb ${serial}, profile ${profile.id}`);
    this.opts.onAdded(board);
  }

  private readProperties(serial: string): Promise<AndroidProperties> {
    return readAndroidProperties(this.client(serial));
  }

  private async checkIdentity(entry: Entry): Promise<void> {
    let props: AndroidProperties;
    try {
      props = await this.readProperties(entry.serial);
    } catch (err) {
      const e = err as LabError;
      throw new LabError(e.code && e.infra ? e.code : "LINK_CLOSED", `board ${entry.board.id}: the identity check before the run could not read ${entry.serial}: ${e.message}`, { cause: err });
    }
    const diff = identityDiff(entry.board, props);
    if (diff === undefined) return;
    entry.replaced = `another device answers on ${entry.serial}: ${diff}`;
    throw new LabError("IDENTITY_MISMATCH", `board ${entry.board.id}: ${entry.replaced}; the board is taken offline and the device registered anew`);
  }

  /**
   * Every 2 s: what a missed or failed step left behind is done again (a board whose state differs from adb's,
   * a device whose properties could not be read), and the `host:port` devices are kept attached.
   */
  private tick(): void {
    // not while the server is away: the adb client would start a daemon of its own on the agent's port
    if (this.closed || !this.tracker.live) return;
    for (const entry of this.entries.values()) {
      if (entry.runs > 0) continue;
      const attached = this.tracker.state(entry.serial) === "device";
      if (attached !== (entry.reported === "idle") || entry.replaced !== undefined) this.settle(entry);
    }
    for (const serial of this.unreadable) {
      if (this.tracker.state(serial) === "device") void this.identify(serial);
      else this.unreadable.delete(serial);
    }
    this.reconnect();
  }

  /** Connects the `host:port` devices that are not attached; disconnects first those stuck offline or unauthorized. */
  private reconnect(): void {
    for (const ep of this.endpoints.values()) {
      if (ep.connecting) continue;
      const entry = this.entryBySerial(ep.serial);
      if (entry && entry.runs > 0) continue;
      const state = this.tracker.state(ep.serial);
      if (state === "device") continue;
      const stuck = state !== "gone" && Date.now() - ep.lastAttempt >= STUCK_MS;
      if (state !== "gone" && !stuck) continue;
      ep.connecting = true;
      ep.lastAttempt = Date.now();
      void this.attach(ep, stuck).finally(() => {
        ep.connecting = false;
      });
    }
  }

  private async attach(ep: Endpoint, disconnectFirst: boolean): Promise<void> {
    // -H: never a daemon of the client's own on this port (see AdbClient.serverArgs)
    const base = ["-H", "127.0.0.1", "-P", String(this.server.port)];
    const env = this.server.env;
    if (disconnectFirst) await runTool(ADB, [...base, "disconnect", ep.serial], { env, timeoutMs: 10_000 }).catch(() => undefined);
    await runTool(ADB, [...base, "connect", ep.serial], { env, timeoutMs: 15_000 }).catch((err: Error) => this.opts.log(`adb connect ${ep.serial}: ${err.message}`));
  }
}
