import type { Board } from "@hil/contracts";
import type { Disposable } from "../links/serial-link.js";
import type { BoardProvider } from "./board-provider.js";

/** N boards that exist only in Redis: for measuring the dispatch path without board work. */
export class InstantBoardProvider implements BoardProvider {
  private readonly boards: Board[];

  constructor(opts: { agent: string; count: number; profile: string; labels?: Record<string, string> }) {
    const now = Date.now();
    this.boards = Array.from({ length: opts.count }, (_, i) => ({
      id: `${opts.agent}-instant-${i}`,
      profile: opts.profile,
      agent: opts.agent,
      identity: {},
      state: "idle" as const,
      labels: { ...opts.labels, instant: "1" },
      virtual: true,
      health: 100,
      updatedAt: now,
    }));
  }

  list(): Board[] {
    return this.boards.map((b) => ({ ...b }));
  }

  onAdded(): Disposable {
    return { dispose() {} };
  }

  onRemoved(): Disposable {
    return { dispose() {} };
  }

  async close(): Promise<void> {}
}
