import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LabError } from "@hil/contracts";
import { pickFreePort } from "../../virtual/android/tcp-endpoint.js";
import { runTool } from "./run-tool.js";

const ADB = "/usr/bin/adb";
/** util-linux's setpriv (essential on Debian): runs the server with a parent-death signal. */
const SETPRIV = "/usr/bin/setpriv";

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

/**
 * The agent's own adb server: a private port (never 5037, so a developer's adb on the bench is left
 * alone) and its own HOME (its own adb keys), run in the foreground so the agent owns its PID, and
 * started again if it dies. Devices on TCP (`host:port`) are connected to it with `connect`.
 */
export class AdbServer {
  private child: ChildProcess | undefined;
  private stopping = false;
  private readonly connected = new Set<string>();

  private constructor(
    readonly port: number,
    private readonly home: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** The server's process id (the adb process itself: setpriv replaces itself with it). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get env(): NodeJS.ProcessEnv {
    return { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: this.home, TMPDIR: this.home, ANDROID_ADB_SERVER_PORT: String(this.port), ADB_EMU: "0" };
  }

  static async start(log: (msg: string) => void = () => {}): Promise<AdbServer> {
    const server = new AdbServer(await pickFreePort(), await mkdtemp(join(tmpdir(), "hil-agent-adb-")), log);
    await server.spawn();
    return server;
  }

  private async spawn(): Promise<void> {
    // Under setpriv's parent-death signal the server dies with the agent, even a SIGKILLed one: an orphan would
    // keep its USB phones claimed, and the next agent's server would not see them.
    const args = ["-P", String(this.port), "nodaemon", "server"];
    const child = existsSync(SETPRIV) ? spawn(SETPRIV, ["--pdeathsig", "KILL", "--", ADB, ...args], { env: this.env, stdio: "ignore" }) : spawn(ADB, args, { env: this.env, stdio: "ignore" });
    this.child = child;
    child.once("error", (err) => this.log(`adb server: ${err.message}`));
    child.once("exit", (code) => {
      if (this.stopping || this.child !== child) return;
      this.log(`adb server on port ${this.port} exited (${code}); starting it again`);
      void this.spawn().then(
        () => Promise.all([...this.connected].map((d) => this.connect(d).catch(() => undefined))),
        (err: Error) => this.log(`adb server did not come back: ${err.message}`),
      );
    });
    const deadline = Date.now() + 15_000;
    while (!(await canConnect(this.port))) {
      if (child.exitCode !== null) throw new LabError("LINK_OPEN_FAILED", `adb server exited at start (is Debian's adb installed at ${ADB}?)`);
      if (Date.now() > deadline) throw new LabError("LINK_OPEN_FAILED", `adb server on port ${this.port} did not start within 15 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** `adb connect host:port` until the device is listed as a device (it may still be booting). */
  async connect(hostPort: string, timeoutMs = 30_000): Promise<void> {
    this.connected.add(hostPort);
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      const r = await runTool(ADB, ["-H", "127.0.0.1", "-P", String(this.port), "connect", hostPort], { env: this.env, timeoutMs: 10_000 });
      last = `${r.stdout}${r.stderr}`.trim();
      if (/connected to/.test(last)) {
        const devices = await runTool(ADB, ["-H", "127.0.0.1", "-P", String(this.port), "devices"], { env: this.env, timeoutMs: 10_000 });
        if (devices.stdout.split("\n").some((l) => l.trim() === `${hostPort}\tdevice`)) return;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new LabError("LINK_OPEN_FAILED", `adb could not connect to ${hostPort}: ${last}`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise((r) => {
        const t = setTimeout(() => (child.kill("SIGKILL"), r(undefined)), 3000);
        child.once("exit", () => (clearTimeout(t), r(undefined)));
      });
    }
    await rm(this.home, { recursive: true, force: true });
  }
}
