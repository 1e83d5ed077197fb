import type { RedisClient } from "@hil/lab-protocol/redis";
import type { Logger } from "pino";
import type { LabKeys } from "@hil/contracts";
import type { FsArtifactStore } from "./fs-artifact-store.js";

/**
 * Something that still needs stored artifacts. The sweep keeps every artifact any source names.
 * Bookings do not name artifacts yet; when they do (say, an image flashed when the booking starts),
 * a source reading the live bookings joins the list given to ArtifactSweeper.
 */
export interface ArtifactReferences {
  /** Adds the SHA-256 of every artifact this source still needs to `into`. */
  collect(into: Set<string>): Promise<void>;
}

const SHA_IN_JSON = /"sha256":"([0-9a-f]{64})"/g;
const RUNS_PER_PIPELINE = 500;

/**
 * Runs still in Redis (any state; finished ones until HIL_RUN_RETENTION prunes them) name their
 * artifacts in the request and in the plan. Both are scanned as text rather than parsed: a record
 * that no longer parses still protects what it names, since deleting on doubt cannot be undone.
 */
export class RunArtifactReferences implements ArtifactReferences {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
  ) {}

  async collect(into: Set<string>): Promise<void> {
    const ids = await this.redis.zrange(this.keys.runs(), "0", "-1");
    for (let i = 0; i < ids.length; i += RUNS_PER_PIPELINE) {
      const pipe = this.redis.pipeline();
      for (const id of ids.slice(i, i + RUNS_PER_PIPELINE)) pipe.hmget(this.keys.run(id), "json", "plan");
      for (const [err, fields] of (await pipe.exec()) ?? []) {
        if (err) throw err;
        for (const text of (fields as (string | null)[]) ?? []) {
          if (text) for (const m of text.matchAll(SHA_IN_JSON)) if (m[1]) into.add(m[1]);
        }
      }
    }
  }
}

export interface ArtifactSweeperOptions {
  /** Artifacts unused this long (mtime: last upload or submit naming them) and named by no source go. */
  retentionMs: number;
  /** Temp files not written to this long belong to uploads that died; default an hour. */
  tempStaleMs?: number;
}

export interface SweepResult {
  deleted: number;
  kept: number;
  tempsRemoved: number;
}

/**
 * Garbage collection of the artifact store. Run files (`<dir>/runs`) are never touched: they are
 * not artifacts and live as long as their directory is kept.
 */
export class ArtifactSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;

  constructor(
    private readonly store: FsArtifactStore,
    private readonly references: readonly ArtifactReferences[],
    private readonly opts: ArtifactSweeperOptions,
    private readonly log: Logger,
  ) {}

  /** One pass; concurrent callers share the pass already running. */
  sweep(now = Date.now()): Promise<SweepResult> {
    this.running ??= this.pass(now).finally(() => (this.running = undefined));
    return this.running;
  }

  /** Sweeps every `intervalMs` (and once soon after start) until stop(). */
  start(intervalMs: number): void {
    const run = () =>
      void this.sweep().then(
        (r) => (r.deleted || r.tempsRemoved ? this.log.info(r, "artifact sweep removed unused artifacts") : undefined),
        (err: unknown) => this.log.error({ err }, "artifact sweep failed; trying again next interval"),
      );
    this.timer = setInterval(run, intervalMs);
    this.timer.unref();
    setTimeout(() => this.timer && run(), Math.min(intervalMs, 10_000)).unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  private async pass(now: number): Promise<SweepResult> {
    const used = new Set<string>();
    for (const source of this.references) await source.collect(used);
    const oldest = now - this.opts.retentionMs;
    let deleted = 0;
    let kept = 0;
    for await (const a of this.store.stored()) {
      if (a.mtimeMs >= oldest || used.has(a.sha256)) {
        kept++;
        continue;
      }
      // read again just before deleting: a submit naming it touches it (see FsArtifactStore.touch)
      const last = await this.store.lastUsed(a.sha256);
      if (last === undefined) continue;
      if (last >= oldest) {
        kept++;
        continue;
      }
      await this.store.remove(a.sha256);
      deleted++;
    }
    const tempsRemoved = await this.store.removeStaleTemps(now - (this.opts.tempStaleMs ?? 3_600_000));
    return { deleted, kept, tempsRemoved };
  }
}
