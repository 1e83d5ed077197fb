import { spawn } from "node:child_process";
import { LabError } from "@hil/contracts";

export interface ToolResult {
  stdout: string;
  stderr: string;
  /** The tool's exit status; null when it was killed (timeout, abort). */
  exitCode: number | null;
  /** Why it was killed, when it was. */
  killed?: "timeout" | "abort";
}

export interface RunToolOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Stdout as it arrives (instrumentation results stream while the run goes on). */
  onStdout?: (text: string) => void;
}

/**
 * Runs a client binary (adb, fastboot) with an argument array, never through a shell, and collects
 * its output. A timeout or abort kills that one child by its PID and resolves with `killed` set,
 * so each caller decides what a hang means for its command.
 */
export function runTool(file: string, args: readonly string[], opts: RunToolOptions): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      resolve({ stdout: "", stderr: "", exitCode: null, killed: "abort" });
      return;
    }
    const child = spawn(file, args, { env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let killed: ToolResult["killed"];
    const decoder = new TextDecoder("utf-8");
    child.stdout.on("data", (b: Buffer) => {
      out.push(b);
      if (opts.onStdout) opts.onStdout(decoder.decode(b, { stream: true }));
    });
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const kill = (why: "timeout" | "abort") => {
      killed ??= why;
      child.kill("SIGKILL");
    };
    const timer = setTimeout(() => kill("timeout"), opts.timeoutMs);
    const onAbort = () => kill("abort");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      reject(new LabError("INTERNAL", `cannot run ${file}: ${e.message}; install it (Debian packages "adb" and "fastboot") or fix the configured path`, { cause: e }));
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      const rest = decoder.decode();
      if (rest && opts.onStdout) opts.onStdout(rest);
      opts.signal?.removeEventListener("abort", onAbort);
      const result: ToolResult = { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8"), exitCode: killed ? null : code };
      if (killed) result.killed = killed;
      resolve(result);
    });
  });
}
