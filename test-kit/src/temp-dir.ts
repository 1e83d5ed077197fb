// Temp dirs for tests: created under the OS temp dir, never hard-coded, removed by the test.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempDir {
  readonly dir: string;
  remove(): Promise<void>;
}

export async function makeTempDir(prefix = "hil-test-"): Promise<TempDir> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs `fn` with a fresh temp dir and removes it afterwards, whatever `fn` did. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const tmp = await makeTempDir();
  try {
    return await fn(tmp.dir);
  } finally {
    await tmp.remove();
  }
}
