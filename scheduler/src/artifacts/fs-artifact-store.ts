import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, type ReadStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat, utimes } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ArtifactRef } from "@hil/contracts";
import { ArtifactTooLargeError } from "./artifact-too-large-error.js";

const SHA_RE = /^[0-9a-f]{64}$/;

/**
 * Content-addressed files: `<dir>/sha256/<first two hex>/<hash>`. The same firmware is stored once;
 * agents cache by the same hash. A write goes to a temp file first, so readers never see half a file.
 */
export class FsArtifactStore {
  constructor(readonly dir: string) {}

  pathOf(sha256: string): string {
    if (!SHA_RE.test(sha256)) throw new Error(`"${sha256}" is not a lowercase hex SHA-256`);
    return join(this.dir, "sha256", sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.size(sha256)) !== undefined;
  }

  async size(sha256: string): Promise<number | undefined> {
    if (!SHA_RE.test(sha256)) return undefined;
    try {
      return (await stat(this.pathOf(sha256))).size;
    } catch {
      return undefined;
    }
  }

  /**
   * Stores a stream; resolves with its hash and size, and whether it was new. Past `maxBytes` it
   * rejects with ArtifactTooLargeError and keeps nothing (the temp file goes, no short artifact).
   */
  async put(source: Readable | Buffer, opts: { maxBytes?: number } = {}): Promise<ArtifactRef & { created: boolean }> {
    const max = opts.maxBytes ?? Number.POSITIVE_INFINITY;
    const tmpDir = this.tmpDir();
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${Date.now()}-${randomBytes(6).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        size += chunk.length;
        if (size > max) return cb(new ArtifactTooLargeError(max));
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(Buffer.isBuffer(source) ? Readable.from([source]) : source, tap, createWriteStream(tmp));
      const sha256 = hash.digest("hex");
      const dest = this.pathOf(sha256);
      // touching the stored copy fails only when the sweep removed it meanwhile: then this one takes its place
      const existed = (await this.has(sha256)) && (await this.touch(sha256));
      if (!existed) {
        await mkdir(dirname(dest), { recursive: true });
        await rename(tmp, dest);
      }
      return { sha256, size, created: !existed };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * Marks an artifact as just used: its mtime is what the artifact sweep compares with the retention,
   * so an old file uploaded again or named by a new run is not collected under it.
   */
  async touch(sha256: string, at = new Date()): Promise<boolean> {
    try {
      await utimes(this.pathOf(sha256), at, at);
      return true;
    } catch {
      return false;
    }
  }

  /** When the artifact was last used (its mtime), or undefined when it is not stored. */
  async lastUsed(sha256: string): Promise<number | undefined> {
    if (!SHA_RE.test(sha256)) return undefined;
    return (await stat(this.pathOf(sha256)).catch(() => undefined))?.mtimeMs;
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  /** Deletes temp files not written to since `before` (uploads that died mid-way); returns how many. */
  async removeStaleTemps(before: number): Promise<number> {
    let n = 0;
    for (const name of await readdir(this.tmpDir()).catch(() => [] as string[])) {
      const path = join(this.tmpDir(), name);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isFile() || st.mtimeMs >= before) continue;
      await rm(path, { force: true });
      n++;
    }
    return n;
  }

  /** Every stored artifact with its last-used time (mtime), for the sweep. */
  async *stored(): AsyncGenerator<{ sha256: string; path: string; mtimeMs: number }> {
    const root = join(this.dir, "sha256");
    for (const shard of await readdir(root).catch(() => [] as string[])) {
      for (const name of await readdir(join(root, shard)).catch(() => [] as string[])) {
        if (!SHA_RE.test(name)) continue;
        const path = join(root, shard, name);
        const st = await stat(path).catch(() => undefined);
        if (st?.isFile()) yield { sha256: name, path, mtimeMs: st.mtimeMs };
      }
    }
  }

  /** Where uploads are written before they are complete (the sweep removes stale ones). */
  tmpDir(): string {
    return join(this.dir, "tmp");
  }

  open(sha256: string): ReadStream {
    return createReadStream(this.pathOf(sha256));
  }

  /** Where a board's archived log files go (see BoardLogArchive). */
  boardDir(boardId: string): string {
    return join(this.dir, "boards", boardId);
  }

  /** Where a run's JUnit XML and log files go. */
  runDir(runId: string): string {
    return join(this.dir, "runs", runId);
  }
}
