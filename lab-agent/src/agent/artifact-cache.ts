import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { LabError, type ArtifactRef } from "@hil/contracts";

export interface ArtifactCacheOptions {
  /** Directory of this agent's cache (files named by hash). */
  cacheDir: string;
  /** The scheduler's base URL and token, for `GET /api/v1/artifacts/:sha256`. */
  schedulerUrl?: string;
  token?: string;
  /** The scheduler's own artifact directory when it is on this machine: read in place. */
  artifactDir?: string;
}

/**
 * Resolves content-addressed artifacts to local files: a shared artifact dir first, then the
 * local cache, then a download that is hashed while it is written and only kept when it matches.
 */
export class ArtifactCache {
  private readonly inFlight = new Map<string, Promise<string>>();

  constructor(private readonly opts: ArtifactCacheOptions) {}

  async resolve(ref: ArtifactRef): Promise<string> {
    const shared = this.opts.artifactDir && join(this.opts.artifactDir, "sha256", ref.sha256.slice(0, 2), ref.sha256);
    if (shared && (await exists(shared))) return shared;
    const cached = this.cachePath(ref.sha256);
    if (await exists(cached)) return cached;
    let pending = this.inFlight.get(ref.sha256);
    if (!pending) {
      pending = this.download(ref).finally(() => this.inFlight.delete(ref.sha256));
      this.inFlight.set(ref.sha256, pending);
    }
    return pending;
  }

  cachePath(sha256: string): string {
    return join(this.opts.cacheDir, sha256.slice(0, 2), sha256);
  }

  private async download(ref: ArtifactRef): Promise<string> {
    const { schedulerUrl, token } = this.opts;
    if (!schedulerUrl) {
      throw new LabError(
        "ARTIFACT_MISSING",
        `artifact ${ref.sha256} is not in the local cache and the agent has no --scheduler-url to fetch it from`,
      );
    }
    const url = new URL(`/api/v1/artifacts/${ref.sha256}`, schedulerUrl);
    let res: Response;
    try {
      res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    } catch (err) {
      throw new LabError("PROTOCOL", `could not reach the scheduler at ${url.origin} to fetch an artifact: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (res.status === 404) throw new LabError("ARTIFACT_MISSING", `the scheduler has no artifact ${ref.sha256}; upload it again`);
    if (!res.ok || !res.body) throw new LabError("PROTOCOL", `fetching artifact ${ref.sha256} failed with HTTP ${res.status}`);

    const final = this.cachePath(ref.sha256);
    await mkdir(join(final, ".."), { recursive: true });
    const partial = `${final}.${process.pid}.part`;
    const hash = createHash("sha256");
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>), tap, createWriteStream(partial));
      const got = hash.digest("hex");
      if (got !== ref.sha256) {
        throw new LabError("PROTOCOL", `artifact download is corrupt: expected sha256 ${ref.sha256}, got ${got}`);
      }
      await rename(partial, final);
      return final;
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** SHA-256 of a file, hex (the artifact id). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(path), hash);
  return hash.digest("hex");
}
