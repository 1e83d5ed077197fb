import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, type ReadStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ArtifactRef } from "@hil/contracts";

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

  /** Stores a stream; resolves with its hash and size, and whether it was new. */
  async put(source: Readable | Buffer): Promise<ArtifactRef & { created: boolean }> {
    const tmpDir = join(this.dir, "tmp");
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, `${Date.now()}-${randomBytes(6).toString("hex")}`);
    const hash = createHash("sha256");
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      await pipeline(Buffer.isBuffer(source) ? Readable.from([source]) : source, tap, createWriteStream(tmp));
      const sha256 = hash.digest("hex");
      const dest = this.pathOf(sha256);
      const existed = await this.has(sha256);
      if (!existed) {
        await mkdir(dirname(dest), { recursive: true });
        await rename(tmp, dest);
      }
      return { sha256, size, created: !existed };
    } finally {
      await rm(tmp, { force: true });
    }
  }

  open(sha256: string): ReadStream {
    return createReadStream(this.pathOf(sha256));
  }

  /** Where a run's JUnit XML and log files go. */
  runDir(runId: string): string {
    return join(this.dir, "runs", runId);
  }
}
