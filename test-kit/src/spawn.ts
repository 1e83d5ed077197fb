// Spawning processes from tests: `hil` from its TypeScript sources, or any command, tracked by PID
// with its output kept so a test can wait for a line and stop the process at the end.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stopChild } from "@hil/lab-protocol/redis";

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root: test-kit/src (sources) or test-kit/dist/src (built) sit below it. */
export const REPO_ROOT = resolve(HERE, basename(dirname(HERE)) === "dist" ? "../../.." : "../..");

/** The argv that runs `hil` from TypeScript sources (no build needed). */
export function hilArgv(args: string[]): [string, string[]] {
  return [process.execPath, ["--conditions=source", "--import", "tsx", join(REPO_ROOT, "cli", "src", "run.ts"), ...args]];
}

export interface Spawned {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves with the first output match, rejects on exit or timeout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function spawnHil(args: string[], opts: SpawnOptions = {}): Spawned {
  const [cmd, argv] = hilArgv(args);
  return spawnTracked(cmd, argv, opts);
}

export function spawnTracked(cmd: string, argv: string[], opts: SpawnOptions = {}): Spawned {
  const child = spawn(cmd, argv, { cwd: REPO_ROOT, ...opts, stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  return {
    child,
    pid: child.pid ?? -1,
    output: () => out,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolveMatch, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            cleanup();
            resolveMatch(m);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; output:\n${out}`));
        }, timeoutMs);
        const onExit = () => {
          check();
          cleanup();
          reject(new Error(`process exited before ${pattern} appeared; output:\n${out}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off("exit", onExit);
        };
        listeners.add(check);
        child.once("exit", onExit);
        check();
      });
    },
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (signal !== "SIGTERM") child.kill(signal);
      await stopChild(child, exited);
    },
  };
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
