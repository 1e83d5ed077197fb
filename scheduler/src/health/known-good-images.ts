import { readFile } from "node:fs/promises";
import type { ArtifactRef } from "@hil/contracts";
import type { FsArtifactStore } from "../artifacts/fs-artifact-store.js";

/**
 * The images the lab flashes to tell whether a board works, by board kind: what a health check and the
 * ladder's reflash step use. The process that starts the scheduler supplies them (`hil scheduler` builds the
 * ESP32 one, which the virtual ESP32 boots to app_main); `HIL_HEALTH_IMAGE_ESP32` replaces it with a real
 * known-good app for physical boards. Each is put in the artifact store when used, so the sweep keeps it.
 */
export class KnownGoodImages {
  constructor(
    private readonly store: FsArtifactStore,
    private readonly builtIn: Readonly<Record<string, Uint8Array>>,
    private readonly files: Readonly<Record<string, string>>,
  ) {}

  has(kind: string): boolean {
    return kind in this.files || kind in this.builtIn;
  }

  /** The stored artifact for `kind`, or undefined when the lab has none. */
  async artifact(kind: string): Promise<ArtifactRef | undefined> {
    const file = this.files[kind];
    const data = file !== undefined ? await readFile(file) : this.builtIn[kind];
    if (data === undefined) return undefined;
    const { created: _created, ...ref } = await this.store.put(Buffer.from(data));
    return { ...ref, filename: `known-good-${kind}.bin` };
  }
}
