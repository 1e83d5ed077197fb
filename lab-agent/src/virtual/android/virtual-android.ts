import type { Socket } from "node:net";
import { LabError } from "@hil/contracts";
import { MAX_PAYLOAD_V1 } from "./adb-message.js";
import { setTimeout as delay } from "node:timers/promises";
import { AdbConnection, type AdbGreeting } from "./adb-connection.js";
import type { AdbStream } from "./adb-stream.js";
import type { Slot } from "./boot-control.js";
import { AndroidDeviceState, type AndroidIdentity, type RebootTarget } from "./device-state.js";
import { FastbootConnection } from "./fastboot-connection.js";
import { FastbootDevice } from "./fastboot-device.js";
import { parseShellDestination, quoteArgs, runExecService, runShellService } from "./shell-service.js";
import { runSyncService } from "./sync-service.js";
import { TcpEndpoint } from "./tcp-endpoint.js";

/**
 * Features in the CNXN banner. Everything listed is implemented; `sendrecv_v2_lz4` and
 * `sendrecv_v2_zstd` are left out because Node has no codec for them.
 */
export const DEFAULT_ADB_FEATURES = [
  "shell_v2",
  "cmd",
  "stat_v2",
  "ls_v2",
  "fixed_push_mkdir",
  "apex",
  "abb",
  "fixed_push_symlink_timestamp",
  "abb_exec",
  "remount_shell",
  "sendrecv_v2",
  "sendrecv_v2_brotli",
  "sendrecv_v2_dry_run_send",
];

export type AndroidMode = "off" | "booting" | "device" | "bootloader" | "unplugged";

export interface VirtualAndroidOptions {
  id?: string;
  identity?: Partial<AndroidIdentity>;
  /** Bind address; default 127.0.0.1. */
  host?: string;
  /** adbd's TCP port; 0 or unset picks a free one outside 5555–5585. */
  adbPort?: number;
  fastbootPort?: number;
  /** From power-on to `sys.boot_completed=1`. Default 1500 ms. */
  bootDelayMs?: number;
  features?: string[];
}

export interface AndroidFaults {
  /** How CNXN is answered: normally, with AUTH the host can never satisfy, or not at all. */
  greeting: AdbGreeting;
  /** The boot never reaches `sys.boot_completed=1`. */
  bootHangs: boolean;
  /** Drop every connection after this many more payload bytes (adb WRTE or fastboot download). */
  disconnectAfterBytes: number | null;
  /** When that count runs out, pull the cable (`unplug`) instead of only dropping the connections. */
  unplugWhenCut: boolean;
}

/**
 * A virtual Android board: adbd over TCP in Android mode, a fastboot bootloader over TCP in
 * bootloader mode, and the switches between them that a real board makes on reboot.
 */
export class VirtualAndroid {
  readonly id: string;
  readonly state: AndroidDeviceState;
  readonly fastboot: FastbootDevice;
  readonly faults: AndroidFaults = { greeting: "device", bootHangs: false, disconnectAfterBytes: null, unplugWhenCut: false };
  private readonly adb: TcpEndpoint;
  private readonly fb: TcpEndpoint;
  private readonly adbConnections = new Set<AdbConnection>();
  private readonly fbConnections = new Set<FastbootConnection>();
  private readonly bootDelayMs: number;
  private readonly features: string[];
  private currentMode: AndroidMode = "off";
  /** Why the last self-started reboot failed, if it did. */
  lastError: string | null = null;
  private bootTimer: NodeJS.Timeout | undefined;
  /** The A/B slot Android is running from (null while no slot could boot). */
  private bootedSlot: Slot | null = null;
  private transitions: Promise<void> = Promise.resolve();

  constructor(private readonly opts: VirtualAndroidOptions = {}) {
    this.id = opts.id ?? "android-0";
    const serial = opts.identity?.serial ?? `HIL${Buffer.from(this.id).toString("hex").slice(0, 10).toUpperCase()}`;
    this.state = new AndroidDeviceState({
      serial,
      model: "HIL Virtual Phone",
      product: "hil_phone",
      device: "hilphone",
      manufacturer: "HIL",
      sdk: 30,
      release: "11",
      abi: "arm64-v8a",
      ...opts.identity,
    });
    this.fastboot = new FastbootDevice({ product: this.state.identity.product, serial });
    this.bootDelayMs = opts.bootDelayMs ?? 1500;
    this.features = opts.features ?? DEFAULT_ADB_FEATURES;
    const host = opts.host ?? "127.0.0.1";
    this.adb = new TcpEndpoint(host, opts.adbPort ?? 0, (s) => this.acceptAdb(s));
    this.fb = new TcpEndpoint(host, opts.fastbootPort ?? 0, (s) => this.acceptFastboot(s));
    this.state.onReboot = (target) => this.rebootInBackground(target);
    const bannerBytes = Buffer.byteLength(this.banner());
    // Old peers assume CNXN fits in 4096 bytes and adbd refuses a longer banner of its own.
    if (bannerBytes > MAX_PAYLOAD_V1) throw new LabError("USAGE", `the CNXN banner of ${this.id} is ${bannerBytes} bytes, over ${MAX_PAYLOAD_V1}; shorten the model, product or device name`);
    for (const [k, v] of Object.entries(this.state.identity)) {
      // The host splits the banner on ':' and ';' (PROTOCOLS.md §B.3).
      if (typeof v === "string" && /[:;=]/.test(v)) throw new LabError("USAGE", `identity.${k} "${v}" must not contain ':', ';' or '='`);
    }
  }

  get mode(): AndroidMode {
    return this.currentMode;
  }

  get adbPort(): number {
    return this.adb.port;
  }

  get fastbootPort(): number {
    return this.fb.port;
  }

  /** What `adb connect` takes and `adb devices` lists. */
  get adbSerial(): string {
    return `${this.opts.host ?? "127.0.0.1"}:${this.adb.port}`;
  }

  get fastbootSerial(): string {
    return `tcp:${this.opts.host ?? "127.0.0.1"}:${this.fb.port}`;
  }

  /** The CNXN banner (PROTOCOLS.md §B.3). */
  banner(): string {
    const id = this.state.identity;
    return `device::ro.product.name=${id.product};ro.product.model=${id.model};ro.product.device=${id.device};features=${this.features.join(",")}`;
  }

  /** Picks ports and powers on into Android. */
  async start(): Promise<void> {
    await this.adb.reservePort();
    await this.fb.reservePort();
    await this.enqueue(() => this.bootAndroid());
  }

  async stop(): Promise<void> {
    await this.enqueue(async () => {
      await this.powerOff();
      this.currentMode = "off";
    });
  }

  /** Reboots like `adb reboot [target]` / `fastboot reboot[-bootloader]`. */
  reboot(target: RebootTarget): Promise<void> {
    return this.enqueue(async () => {
      await this.powerOff();
      await delay(150);
      if (target === "bootloader" || target === "fastboot") await this.enterBootloader();
      else await this.bootAndroid();
    });
  }

  /**
   * A reboot the device starts itself (shell `reboot`, `reboot:` service, fastboot). If a port
   * cannot be reopened the board stays off and says why in `lastError` (and `status`).
   */
  private rebootInBackground(target: RebootTarget): void {
    this.reboot(target).catch((err: unknown) => {
      this.lastError = (err as Error).message;
      this.currentMode = "off";
    });
  }

  /** Pulls the cable: both ports go away until `replug`. */
  unplug(): Promise<void> {
    return this.enqueue(async () => {
      await this.powerOff();
      this.currentMode = "unplugged";
    });
  }

  replug(): Promise<void> {
    return this.enqueue(() => this.bootAndroid());
  }

  /** Drops every open connection without changing mode, like a USB glitch. */
  dropConnections(): void {
    for (const c of this.adbConnections) c.drop();
    for (const c of this.fbConnections) c.drop();
    this.adbConnections.clear();
    this.fbConnections.clear();
  }

  /** Completes a hung boot (after the `bootHangs` fault is cleared). */
  finishBoot(): void {
    if (this.currentMode === "booting") this.completeBoot();
  }

  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.transitions.then(step);
    this.transitions = next.catch(() => undefined);
    return next;
  }

  private async powerOff(): Promise<void> {
    clearTimeout(this.bootTimer);
    this.bootTimer = undefined;
    this.dropConnections();
    await this.adb.close();
    await this.fb.close();
  }

  private async bootAndroid(): Promise<void> {
    // The bootloader picks a slot first (A/B fallback included: boot-control.ts); with none left it stays in fastboot.
    const choice = this.fastboot.bootControl.chooseBootSlot((slot) => this.fastboot.slotBootsFine(slot));
    const s = this.state;
    for (const a of choice.attempts.filter((x) => !x.booted)) s.log("bootloader", `slot ${a.slot} failed to boot (${a.triesLeft} tries left)`, 5, "system", 1);
    for (const slot of choice.markedUnbootable) s.log("bootloader", `slot ${slot} marked unbootable`, 5, "system", 1);
    this.bootedSlot = choice.slot;
    if (choice.slot === null) {
      s.log("bootloader", "no bootable slot; staying in fastboot", 6, "system", 1);
      await this.enterBootloader();
      return;
    }
    this.currentMode = "booting";
    this.state.resetProperties();
    this.state.props.set("ro.boot.slot_suffix", `_${choice.slot}`);
    s.log("init", "init first stage started!", 4, "main", 1);
    s.log("Zygote", "System zygote ready", 4, "main", 600);
    s.log("SystemServer", "Entered the Android system server!", 4, "system", 800);
    s.log("ActivityManager", `Slot ${choice.slot} booted`, 4, "system", 800);
    await this.adb.open();
    if (!this.faults.bootHangs) this.bootTimer = setTimeout(() => this.completeBoot(), this.bootDelayMs);
  }

  private completeBoot(): void {
    if (this.faults.bootHangs || this.currentMode !== "booting") return;
    if (this.bootedSlot !== null) {
      // update_verifier's job on a real device: a completed boot proves the slot.
      this.fastboot.bootControl.markSuccessful(this.bootedSlot);
      this.state.log("update_verifier", `Marked slot ${this.bootedSlot} as booted successfully.`, 4, "main", 500);
    }
    this.state.markBootCompleted();
    this.currentMode = "device";
  }

  private async enterBootloader(): Promise<void> {
    this.currentMode = "bootloader";
    await this.fb.open();
  }

  private countTraffic(bytes: number): void {
    if (this.faults.disconnectAfterBytes === null) return;
    this.faults.disconnectAfterBytes -= bytes;
    if (this.faults.disconnectAfterBytes <= 0) {
      this.faults.disconnectAfterBytes = null;
      const unplug = this.faults.unplugWhenCut;
      this.faults.unplugWhenCut = false;
      setImmediate(() => (unplug ? void this.unplug() : this.dropConnections()));
    }
  }

  private acceptAdb(socket: Socket): void {
    const conn = new AdbConnection(socket, {
      banner: () => this.banner(),
      greeting: () => this.faults.greeting,
      resolveService: (d) => this.resolveService(d),
      onTraffic: (n) => this.countTraffic(n),
    });
    this.adbConnections.add(conn);
    socket.on("close", () => this.adbConnections.delete(conn));
  }

  private acceptFastboot(socket: Socket): void {
    const conn = new FastbootConnection(socket, this.fastboot, {
      onAfter: (after) => this.rebootInBackground(after === "reboot-bootloader" ? "bootloader" : ""),
      onTraffic: (n) => this.countTraffic(n),
    });
    this.fbConnections.add(conn);
    socket.on("close", () => this.fbConnections.delete(conn));
  }

  private resolveService(destination: string): ((stream: AdbStream) => void) | null {
    const device = this.state;
    const shell = parseShellDestination(destination);
    if (shell) return (stream) => runShellService(stream, device, shell);
    if (destination.startsWith("exec:")) return (stream) => runExecService(stream, device, destination.slice(5));
    // abb / abb_exec carry `cmd` arguments separated by NUL (AOSP `daemon/abb.cpp`).
    if (destination.startsWith("abb_exec:")) return (stream) => runExecService(stream, device, quoteArgs(["cmd", ...destination.slice(9).split("\0")]));
    if (destination.startsWith("abb:")) {
      return (stream) => runShellService(stream, device, { protocol: true, pty: false, command: quoteArgs(["cmd", ...destination.slice(4).split("\0")]) });
    }
    // A user build: adbd stays uid 2000 (shell), as `id` and `remount` report.
    if (destination === "root:" || destination === "unroot:") {
      const text = destination === "root:" ? "adbd cannot run as root in production builds\n" : "adbd not running as root\n";
      return (stream) => void stream.write(text).then(() => stream.close());
    }
    if (destination === "sync:") return (stream) => runSyncService(stream, { fs: device.fs });
    if (destination.startsWith("reboot:")) {
      const target = destination.slice(7) as RebootTarget;
      return (stream) => {
        stream.close();
        setTimeout(() => this.rebootInBackground(target === "bootloader" || target === "fastboot" ? target : ""), 20);
      };
    }
    return null;
  }
}
