import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, constants as fsc, existsSync, mkdirSync, openSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { LabError } from "@hil/contracts";
import type { Disposable, SerialDevice } from "../links/serial-link.js";

export interface PtyHandle {
  /** The symlink clients open (points at /dev/pts/N). */
  path: string;
  close(): Promise<void>;
}

const LINK_APPEAR_TIMEOUT_MS = 10_000;

/**
 * Exposes a SerialDevice as a pseudo-terminal that node `serialport`, esptool, screen… open like a
 * USB-UART: socat owns the PTY master and bridges it to its stdio, which we wire to the device.
 * A PTY carries data only; resets go through the board's control API (see BoardControlSocket).
 */
export class PtyExposure {
  private child: ChildProcess | undefined;
  private slaveFd: number | undefined;
  private deviceSub: Disposable | undefined;
  private stopping = false;

  constructor(
    private readonly device: SerialDevice,
    readonly path: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.child) return;
    mkdirSync(dirname(this.path), { recursive: true });
    rmSync(this.path, { force: true });
    this.stopping = false;
    // raw,echo=0: no line discipline rewriting bytes written before a client sets its own modes.
    const child = spawn("socat", ["-b", "65536", `pty,raw,echo=0,link=${this.path}`, "stdio"], { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdout?.on("data", (chunk: Buffer) => this.device.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    child.stdin?.on("error", () => {
      // socat gone: the exit handler below reports it.
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.once("exit", () => {
      if (this.child === child) this.child = undefined;
    });
    const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
    const started = Date.now();
    while (!existsSync(this.path)) {
      const early = await Promise.race([exited.then((c) => `exit ${String(c)}`), spawnError.then((e) => e.message), delay(20).then(() => null)]);
      if (early !== null) {
        this.child = undefined;
        throw new LabError("LINK_OPEN_FAILED", `socat could not create the PTY ${this.path} (${early}${stderr ? `: ${stderr.trim()}` : ""}); check that socat is installed and the directory is writable`);
      }
      if (Date.now() - started > LINK_APPEAR_TIMEOUT_MS) {
        await this.stopChild();
        throw new LabError("LINK_OPEN_FAILED", `socat did not create ${this.path} within ${LINK_APPEAR_TIMEOUT_MS / 1000} s; is the machine overloaded?`);
      }
    }
    // Holding a slave fd (never read: a reader would steal the client's bytes) keeps the master
    // from hanging up while a client closes and reopens the port, as esptool-js does on a baud change.
    this.slaveFd = openSync(this.path, fsc.O_RDWR | fsc.O_NOCTTY | fsc.O_NONBLOCK);
    this.deviceSub = this.device.onTransmit((data) => {
      const stdin = this.child?.stdin;
      if (stdin && !stdin.destroyed) stdin.write(data);
    });
  }

  /** Removes the PTY (what a pulled cable looks like to the client); start() creates it again. */
  async stop(): Promise<void> {
    this.deviceSub?.dispose();
    this.deviceSub = undefined;
    if (this.slaveFd !== undefined) {
      try {
        closeSync(this.slaveFd);
      } catch {
        // already closed
      }
      this.slaveFd = undefined;
    }
    await this.stopChild();
    rmSync(this.path, { force: true });
  }

  private async stopChild(): Promise<void> {
    const child = this.child;
    if (!child || this.stopping) return;
    this.stopping = true;
    const gone = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once("exit", () => resolve());
    });
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, "SIGTERM");
      } catch {
        // already exited
      }
    }
    const timer = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, "SIGKILL");
        } catch {
          // already exited
        }
      }
    }, 3000);
    await gone;
    clearTimeout(timer);
    this.child = undefined;
    this.stopping = false;
  }
}

/** Starts a PTY exposure at `linkPath` and returns its handle. */
export async function exposePty(device: SerialDevice, linkPath: string): Promise<PtyHandle> {
  const exposure = new PtyExposure(device, linkPath);
  await exposure.start();
  return { path: linkPath, close: () => exposure.stop() };
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
