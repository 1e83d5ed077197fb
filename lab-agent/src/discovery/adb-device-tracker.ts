import adbkit from "@devicefarmer/adbkit";
import type { Disposable } from "../links/serial-link.js";

const { Adb } = adbkit;

/**
 * A device's state as the adb server lists it (`device`, `offline`, `unauthorized`, `authorizing`,
 * `connecting`, `bootloader`, `recovery`, …), or `gone` once it is no longer listed.
 */
export type AdbDeviceState = string;

export type AdbDeviceListener = (serial: string, state: AdbDeviceState, previous: AdbDeviceState | undefined) => void;

interface TrackedDevice {
  id: string;
  type: string;
}

interface ChangeSet {
  added: TrackedDevice[];
  changed: TrackedDevice[];
  removed: TrackedDevice[];
}

export interface AdbDeviceTrackerOptions {
  /** The adb server's port (the agent's private one). */
  port: number;
  log: (msg: string) => void;
  /** Pause before following the server again after the connection ended (the server died); default 1 s. */
  retryMs?: number;
  /** How often the list is also read (see the class comment); default 1 s. */
  pollMs?: number;
}

/**
 * Follows the adb server's device list (`host:track-devices`, through @devicefarmer/adbkit) and reports
 * every change of a serial's state, `gone` included. When the server dies the tracker follows the next
 * one; its first list is compared with what was known, so a device that vanished meanwhile is reported gone.
 *
 * Observed with Debian's adb 29: a TCP device whose transport drops and that answers the server's reconnect
 * with AUTH is listed `unauthorized` by `adb devices`, but track-devices never sends that change (it stays
 * `offline` there); after that, a device whose port then closes goes `offline` in the list with no update
 * on the stream at all. So the list is also read every `pollMs`; a state the stream missed is taken once two
 * polls in a row agree on it (one reply could predate a change the stream just reported).
 */
export class AdbDeviceTracker {
  private readonly states = new Map<string, AdbDeviceState>();
  private readonly listeners = new Set<AdbDeviceListener>();
  private tracker: { end(): unknown } | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly pollVotes = new Map<string, AdbDeviceState>();
  private stopped = false;
  private following = false;

  constructor(private readonly opts: AdbDeviceTrackerOptions) {}

  start(): void {
    void this.follow();
    this.pollTimer = setInterval(() => void this.poll(), this.opts.pollMs ?? 1000);
    this.pollTimer.unref();
  }

  /** The serial's state now (`gone` when it is not listed). */
  state(serial: string): AdbDeviceState {
    return this.states.get(serial) ?? "gone";
  }

  /** True once the tracker has received a device list from the current server. */
  get live(): boolean {
    return this.following;
  }

  onChange(listener: AdbDeviceListener): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.tracker?.end();
    this.tracker = undefined;
  }

  private async follow(): Promise<void> {
    if (this.stopped) return;
    try {
      const client = Adb.createClient({ host: "127.0.0.1", port: this.opts.port });
      const tracker = await client.trackDevices();
      if (this.stopped) {
        tracker.end();
        return;
      }
      this.tracker = tracker;
      let ended = false;
      // adbkit emits `end` only once its parser has ended, which a connection the dead server reset never
      // does; an `error` (Connection closed) ends this tracker as well
      const end = () => {
        if (ended) return;
        ended = true;
        if (this.tracker === tracker) this.tracker = undefined;
        this.following = false;
        tracker.end();
        this.again();
      };
      tracker.on("changeSet", (cs: ChangeSet) => {
        if (ended) return;
        for (const d of [...cs.added, ...cs.changed]) this.set(d.id, d.type);
        for (const d of cs.removed) this.set(d.id, "gone");
      });
      tracker.on("error", (err: Error) => {
        if (!this.stopped) this.opts.log(`adb device tracking: ${err.message}; following the server again`);
        end();
      });
      tracker.on("end", end);
      // what this server lists now: a device known before and not listed is gone (a new server knows none of them)
      const devices: TrackedDevice[] = await client.listDevices();
      const listed = new Map(devices.map((d) => [d.id, d.type]));
      if (ended || this.stopped) return;
      for (const serial of [...this.states.keys()]) if (!listed.has(serial)) this.set(serial, "gone");
      for (const [serial, type] of listed) this.set(serial, type);
      this.following = true;
    } catch (err) {
      this.following = false;
      if (!this.stopped) this.opts.log(`adb device tracking could not start (${(err as Error).message}); trying again`);
      this.again();
    }
  }

  private async poll(): Promise<void> {
    if (this.polling || !this.following || this.stopped) return;
    this.polling = true;
    try {
      const devices: TrackedDevice[] = await Adb.createClient({ host: "127.0.0.1", port: this.opts.port }).listDevices();
      const listed = new Map(devices.map((d) => [d.id, d.type]));
      for (const serial of new Set([...this.states.keys(), ...listed.keys()])) {
        const now = listed.get(serial) ?? "gone";
        if (now === this.state(serial)) {
          this.pollVotes.delete(serial);
          continue;
        }
        // a reply may have been on its way while the stream reported a newer state: act on two polls that agree
        if (this.pollVotes.get(serial) === now) {
          this.pollVotes.delete(serial);
          this.set(serial, now);
        } else this.pollVotes.set(serial, now);
      }
    } catch {
      // the server is away: the tracker's end says so, and the next server's first list settles everything
    } finally {
      this.polling = false;
    }
  }

  private again(): void {
    if (this.stopped) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.follow(), this.opts.retryMs ?? 1000);
  }

  private set(serial: string, state: AdbDeviceState): void {
    const previous = this.states.get(serial);
    if (previous === state || (previous === undefined && state === "gone")) return;
    if (state === "gone") this.states.delete(serial);
    else this.states.set(serial, state);
    for (const l of [...this.listeners]) l(serial, state, previous);
  }
}
