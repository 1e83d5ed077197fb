import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { LabError, StepTimeoutError } from "@hil/contracts";
import { adbTransportError, firstLine, installFailureReason } from "./adb-errors.js";
import { runTool, type ToolResult } from "./run-tool.js";

export interface AdbClientOptions {
  /** adb serial: `127.0.0.1:6555` for a TCP device, the USB serial otherwise. */
  serial: string;
  /** The agent's private adb server (never 5037, so a developer's own adb is left alone). */
  serverPort: number;
  /** Environment for the clients: PATH, and an isolated HOME / TMPDIR for the adb keys and logs. */
  env: NodeJS.ProcessEnv;
  /** `tcp:HOST:PORT` where the board's bootloader answers fastboot, if it has one. */
  fastbootSerial?: string;
  adbPath?: string;
  fastbootPath?: string;
}

export interface ShellOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  onStdout?: (text: string) => void;
}

export interface ShellResult {
  stdout: string;
  stderr: string;
  /** The remote command's exit status (shell protocol v2, adb ≥ 29). */
  exitCode: number;
}

export interface InstallOptions {
  replace: boolean;
  /** Grant every runtime permission the manifest asks for (`-g`). */
  grant?: boolean;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface LogcatStream {
  /** Stops this logcat client (its own PID). */
  stop(): void;
}

const TCP_SERIAL = /^[\w.-]+:\d+$/;

/**
 * One Android device through Debian's `adb` and `fastboot` binaries. Exit codes come from shell
 * protocol v2 (the device must advertise `shell_v2`, as every Android ≥ 7 does). Every failure is a
 * LabError: the client's own errors (device gone, offline, cut) are infrastructure codes, a
 * refused install is TEST_FAILED with the device's reason.
 */
export class AdbClient {
  readonly serial: string;
  readonly fastbootSerial: string | undefined;
  private readonly serverPort: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly adbPath: string;
  private readonly fastbootPath: string;

  constructor(opts: AdbClientOptions) {
    this.serial = opts.serial;
    this.fastbootSerial = opts.fastbootSerial;
    this.serverPort = opts.serverPort;
    this.env = { ...opts.env, ANDROID_ADB_SERVER_PORT: String(opts.serverPort) };
    this.adbPath = opts.adbPath ?? "/usr/bin/adb";
    this.fastbootPath = opts.fastbootPath ?? "/usr/bin/fastboot";
  }

  /**
   * `-H 127.0.0.1 -P port`: naming the host keeps the client from starting a daemon of its own on the agent's port
   * when the server is away (adb 29 starts one only for a "local" spec, `localhost` or none; it says "cannot
   * start server on remote host" and "cannot connect to daemon", LINK_OPEN_FAILED), so only the agent's restart
   * of its own server ever owns that port.
   */
  private get serverArgs(): string[] {
    return ["-H", "127.0.0.1", "-P", String(this.serverPort)];
  }

  /** Runs `adb -H 127.0.0.1 -P port -s serial …args`; throws only if adb cannot be started. */
  adb(args: readonly string[], opts: ShellOptions): Promise<ToolResult> {
    return runTool(this.adbPath, [...this.serverArgs, "-s", this.serial, ...args], { env: this.env, ...opts });
  }

  /** For a TCP device: (re)attach it to the adb server. A USB device needs nothing. */
  async connect(timeoutMs = 15_000): Promise<void> {
    if (!TCP_SERIAL.test(this.serial)) return;
    const r = await runTool(this.adbPath, [...this.serverArgs, "connect", this.serial], { env: this.env, timeoutMs });
    if (/^(connected to|already connected to)/m.test(r.stdout)) return;
    throw new LabError("BOARD_VANISHED", `adb connect ${this.serial} failed: ${firstLine(r.stdout + r.stderr)}; check that the device is powered and on the network`);
  }

  /** Detaches a TCP device, so the next connect starts a fresh transport (after a reboot). */
  async disconnect(): Promise<void> {
    if (!TCP_SERIAL.test(this.serial)) return;
    await runTool(this.adbPath, [...this.serverArgs, "disconnect", this.serial], { env: this.env, timeoutMs: 10_000 });
  }

  /** Runs `cmd` in the device's shell and returns its output and real exit status. */
  async shell(cmd: string, opts: ShellOptions): Promise<ShellResult> {
    const r = await this.adb(["shell", cmd], opts);
    this.throwIfKilled(r, `adb shell ${JSON.stringify(cmd)}`, opts.timeoutMs);
    if (r.exitCode !== 0) {
      const infra = adbTransportError(r.stderr, `adb shell ${JSON.stringify(cmd)} on ${this.serial}`);
      if (infra) throw infra;
    }
    return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
  }

  /**
   * Throws an infrastructure LabError unless the adb server sees the device as `device`. Needed
   * after a command because adb 29's shell v2 client exits 0 with no output when the transport
   * drops mid-command (no exit packet arrives), which looks like a command that printed nothing.
   */
  async ensureAttached(what: string): Promise<void> {
    const r = await this.adb(["get-state"], { timeoutMs: 10_000 });
    if (r.exitCode === 0 && r.stdout.trim() === "device") return;
    throw adbTransportError(r.stderr, `${what} on ${this.serial}`)
      ?? new LabError("LINK_CLOSED", `${what} on ${this.serial}: the device is "${firstLine(r.stdout + r.stderr)}", not "device"; it dropped during the command`);
  }

  async getprop(name: string, timeoutMs = 10_000): Promise<string> {
    const r = await this.shell(`getprop ${name}`, { timeoutMs });
    return r.stdout.trim();
  }

  async install(apk: string, opts: InstallOptions): Promise<string> {
    // adb installs only files whose name ends in .apk; the agent's artifact cache names files by their hash
    if (!apk.toLowerCase().endsWith(".apk")) {
      const dir = await mkdtemp(join(tmpdir(), "hil-apk-"));
      const named = join(dir, `${basename(apk)}.apk`);
      try {
        await symlink(resolve(apk), named);
        return await this.install(named, opts);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    const args = ["install", ...(opts.replace ? ["-r"] : []), ...(opts.grant ? ["-g"] : []), apk];
    const r = await this.adb(args, { timeoutMs: opts.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) });
    this.throwIfKilled(r, `adb install ${basename(apk)}`, opts.timeoutMs);
    const output = `${r.stdout}\n${r.stderr}`;
    if (r.exitCode === 0 && /^Success/m.test(r.stdout)) return firstLine(r.stdout.replace(/^Performing .*$/m, ""));
    const reason = installFailureReason(output);
    if (reason !== undefined) throw new LabError("TEST_FAILED", `the device refused ${basename(apk)}: ${reason}`);
    throw adbTransportError(r.stderr, `adb install ${basename(apk)} on ${this.serial}`)
      ?? new LabError("LINK_CLOSED", `adb install ${basename(apk)} on ${this.serial} did not finish (exit ${r.exitCode}): ${firstLine(output)}; the transfer was probably cut`);
  }

  async push(local: string, remote: string, opts: ShellOptions): Promise<void> {
    const r = await this.adb(["push", local, remote], opts);
    this.throwIfKilled(r, `adb push ${basename(local)}`, opts.timeoutMs);
    if (r.exitCode === 0) return;
    const output = `${r.stdout}\n${r.stderr}`;
    const infra = adbTransportError(output, `adb push ${basename(local)} ${remote} on ${this.serial}`);
    if (infra) throw infra;
    // The device answered with a reason (read-only path, no space): the suite's target path is wrong.
    const remoteRefusal = /remote (.*)$/m.exec(output);
    if (remoteRefusal) throw new LabError("TEST_FAILED", `the device refused ${remote}: ${remoteRefusal[1]}`);
    throw new LabError("LINK_CLOSED", `adb push ${basename(local)} ${remote} on ${this.serial} failed: ${firstLine(output)}; the transfer was probably cut`);
  }

  /** `adb reboot [bootloader]`; the transport drops, so a TCP device is detached right away. */
  async reboot(target: "" | "bootloader" = ""): Promise<void> {
    const r = await this.adb(target ? ["reboot", target] : ["reboot"], { timeoutMs: 15_000 });
    this.throwIfKilled(r, "adb reboot", 15_000);
    if (r.exitCode !== 0) {
      throw adbTransportError(r.stderr, `adb reboot on ${this.serial}`) ?? new LabError("LINK_CLOSED", `adb reboot on ${this.serial} failed: ${firstLine(r.stderr)}`);
    }
    await this.disconnect();
  }

  /**
   * Waits until `sys.boot_completed` is 1, reconnecting a TCP device as it comes back. Unreachable
   * until `deadline` → BOARD_VANISHED; reachable but never booted → STEP_TIMEOUT (the image may be bad).
   */
  async waitForBoot(deadline: number, signal?: AbortSignal): Promise<void> {
    let reachable = false;
    let last = "";
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new LabError("CANCELLED", "the run was cancelled while waiting for the device to boot");
      try {
        await this.connect(Math.max(1000, Math.min(10_000, deadline - Date.now())));
        const r = await this.shell("getprop sys.boot_completed", { timeoutMs: Math.max(1000, Math.min(5000, deadline - Date.now())) });
        reachable = true;
        if (r.stdout.trim() === "1") return;
        last = `sys.boot_completed is "${r.stdout.trim()}"`;
      } catch (err) {
        last = (err as Error).message;
      }
      await delay(250);
    }
    if (reachable) throw new StepTimeoutError(`${this.serial} did not finish booting (${last}); check the image it boots`);
    throw new LabError("BOARD_VANISHED", `${this.serial} did not come back on adb: ${last}`);
  }

  /** Follows `adb logcat -v threadtime`; the caller restarts it if it ends (the device rebooted). */
  logcat(onData: (chunk: Uint8Array) => void, onEnd: (code: number | null) => void): LogcatStream {
    const child: ChildProcess = spawn(this.adbPath, [...this.serverArgs, "-s", this.serial, "logcat", "-v", "threadtime"], { env: this.env, stdio: ["ignore", "pipe", "ignore"] });
    child.stdout?.on("data", (b: Buffer) => onData(new Uint8Array(b.buffer, b.byteOffset, b.byteLength)));
    child.on("error", () => undefined);
    child.on("close", (code) => onEnd(code));
    return {
      stop: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      },
    };
  }

  /**
   * Runs `fastboot -s tcp:HOST:PORT …args`. The 29 client waits forever for a board that is not in
   * its bootloader ("< waiting for … >"), so the timeout here is what ends that.
   */
  async fastboot(args: readonly string[], opts: ShellOptions): Promise<ToolResult> {
    if (this.fastbootSerial === undefined) throw new LabError("PROFILE_INVALID", `board ${this.serial} has no fastboot address; add one to its profile or inventory entry`);
    const r = await runTool(this.fastbootPath, ["-s", this.fastbootSerial, ...args], { env: this.env, ...opts });
    if (r.killed === "abort") throw new LabError("CANCELLED", `fastboot ${args.join(" ")} was cancelled`);
    if (r.killed === "timeout") {
      if (/< waiting for/.test(r.stderr)) throw new LabError("BOARD_VANISHED", `fastboot on ${this.fastbootSerial} never answered within ${Math.round(opts.timeoutMs / 1000)} s: the board is not in its bootloader or is gone`);
      throw new LabError("LINK_CLOSED", `fastboot ${args.join(" ")} on ${this.fastbootSerial} hung for ${Math.round(opts.timeoutMs / 1000)} s: ${firstLine(r.stderr)}`);
    }
    return r;
  }

  /** Flashes one partition from the bootloader; the device's refusal is the image's problem. */
  async flashPartition(partition: string, file: string, opts: ShellOptions): Promise<void> {
    const r = await this.fastboot(["flash", partition, file], opts);
    if (r.exitCode === 0 && !/FAILED/.test(r.stderr)) return;
    const remote = /FAILED \(remote: '(.*)'\)$/m.exec(r.stderr);
    if (remote) throw new LabError("IMAGE_INVALID", `the bootloader refused ${basename(file)} for partition ${partition}: ${remote[1]}`);
    throw new LabError("LINK_CLOSED", `fastboot flash ${partition} on ${this.fastbootSerial} failed: ${firstLine(r.stderr)}; the transfer was probably cut`);
  }

  private throwIfKilled(r: ToolResult, what: string, timeoutMs: number): void {
    if (r.killed === "abort") throw new LabError("CANCELLED", `${what} was cancelled`);
    if (r.killed === "timeout") throw new StepTimeoutError(`${what} on ${this.serial} did not finish within ${Math.round(timeoutMs / 1000)} s`);
  }
}
