// Runs the real `hil` CLI from sources. The shared spawnHil helper lives in @hil/scheduler, which
// depends on this package, so importing it here would make a project-reference cycle.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { packageDirOf } from "../src/index.js";

export const REPO_ROOT = join(packageDirOf(import.meta.url), "..");

export interface HilResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function runHil(args: string[], timeoutMs = 60_000): Promise<HilResult> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", join(REPO_ROOT, "cli", "src", "run.ts"), ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => {
    if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  }, timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c) => resolve(c));
    });
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  }
}
