import type { AdbClient, LogcatStream } from "../drivers/android/adb-client.js";
import { ConsoleCapture } from "../console/console-capture.js";
import { MemoryLink } from "../links/memory-link.js";
import type { Disposable, SerialDevice } from "../links/serial-link.js";
import type { BoardTarget } from "./board-target.js";

/** An Android board driven through adb (and fastboot from its bootloader). */
export interface AndroidBoardTarget extends BoardTarget {
  readonly kind: "android";
  readonly adb: AdbClient;
}

export function isAndroidTarget(t: BoardTarget): t is AndroidBoardTarget {
  return t.kind === "android";
}

export interface AndroidTargetOptions {
  boardId: string;
  /** The profile's capabilities. */
  capabilities: readonly string[];
  adb: AdbClient;
  runId?: string | null;
  /** Continues the board's log sequence across runs. */
  startSeq?: number;
  /** Pause before following logcat again after it ended (the device rebooted or dropped); default 500 ms. */
  logcatRetryMs?: number;
  /** Called once when the target is closed (the inventory counts the runs that hold a device). */
  onClose?: () => void;
}

/** Bytes from the `adb logcat` child into a MemoryLink, so logcat lines go through the same ConsoleCapture as a serial console. */
class LogcatFeed implements SerialDevice {
  private readonly listeners = new Set<(data: Uint8Array) => void>();
  push(data: Uint8Array): void {
    for (const l of [...this.listeners]) l(data);
  }
  receive(): void {}
  setSignals(): void {}
  setBaudRate(): void {}
  onTransmit(listener: (data: Uint8Array) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }
}

/**
 * The runner's view of an Android board: its log is `adb logcat -v threadtime` as stamped lines
 * (stream "logcat"), followed again whenever it ends while the target is open — a reboot or a
 * fastboot flash ends it, and the board's log must go on across them.
 */
export class AndroidTarget implements AndroidBoardTarget {
  readonly kind = "android" as const;
  readonly boardId: string;
  readonly capabilities: readonly string[];
  readonly adb: AdbClient;
  readonly console: ConsoleCapture;
  private readonly feed = new LogcatFeed();
  private readonly link: MemoryLink;
  private readonly logcatRetryMs: number;
  private logcat: LogcatStream | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly onClose: (() => void) | undefined;

  private constructor(opts: AndroidTargetOptions) {
    this.boardId = opts.boardId;
    this.onClose = opts.onClose;
    this.capabilities = opts.capabilities;
    this.adb = opts.adb;
    this.logcatRetryMs = opts.logcatRetryMs ?? 500;
    this.link = new MemoryLink(this.feed, { path: `adb:${opts.adb.serial}` });
    this.console = new ConsoleCapture(this.link, {
      boardId: opts.boardId,
      stream: "logcat",
      ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
      ...(opts.startSeq !== undefined ? { startSeq: opts.startSeq } : {}),
    });
  }

  /**
   * Attaches to the device (connecting a TCP one), waits for it to have booted, clears its log
   * buffer so the run's log starts with the run, and follows logcat.
   */
  static async open(opts: AndroidTargetOptions & { bootDeadline?: number; signal?: AbortSignal }): Promise<AndroidTarget> {
    const target = new AndroidTarget(opts);
    await target.link.open();
    try {
      await opts.adb.waitForBoot(opts.bootDeadline ?? Date.now() + 60_000, opts.signal);
      await opts.adb.shell("logcat -c", { timeoutMs: 10_000 });
    } catch (err) {
      await target.close();
      throw err;
    }
    target.followLogcat();
    return target;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.logcat?.stop();
    this.logcat = undefined;
    this.console.dispose();
    try {
      await this.link.close();
    } finally {
      this.onClose?.();
    }
  }

  private followLogcat(): void {
    if (this.closed) return;
    this.logcat = this.adb.logcat(
      (chunk) => this.feed.push(chunk),
      () => {
        this.logcat = undefined;
        if (this.closed) return;
        this.retryTimer = setTimeout(() => this.followLogcat(), this.logcatRetryMs);
      },
    );
  }
}

