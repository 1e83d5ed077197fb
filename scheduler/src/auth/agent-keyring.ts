import { deriveEventKey } from "@hil/lab-protocol";
import type { TokenStore } from "./token-store.js";

/** How long the stored agent keys are trusted before the tokens hash is read again (revocations on other replicas). */
const REFRESH_MS = 5000;
/** An unknown agent makes the keyring look again at most this often (a token created on another replica). */
const MISS_RELOAD_MS = 1000;

/**
 * Each agent's event-signing keys: derived from config tokens of role agent (`lab-1:agent:<secret>` in
 * HIL_TOKENS) at start, and read from the stored token records of role agent (`eventKey`). A revoked or
 * expired token's key is dropped; an agent may hold several tokens while one replaces another.
 */
export class AgentKeyring {
  private readonly fromConfig = new Map<string, string[]>();
  private stored = new Map<string, { key: string; expiresAt?: number }[]>();
  private loadedAt = Number.NEGATIVE_INFINITY;
  private missReloadAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<void> | undefined;
  /** Bumped by `invalidate`: a read that began before it does not count as fresh. */
  private generation = 0;

  constructor(private readonly tokens: Pick<TokenStore, "agentTokens" | "configTokens">) {
    for (const t of tokens.configTokens()) {
      if (t.role !== "agent") continue;
      this.fromConfig.set(t.name, [...(this.fromConfig.get(t.name) ?? []), deriveEventKey(t.token)]);
    }
  }

  /** A token was created or revoked here: read the records again before the next check. */
  invalidate(): void {
    this.generation++;
    this.loadedAt = Number.NEGATIVE_INFINITY;
  }

  /** The keys `agent` may sign with now; empty for an unknown or revoked agent. */
  async keysOf(agent: string, now = Date.now()): Promise<string[]> {
    if (now - this.loadedAt > REFRESH_MS) await this.load(now);
    let found = this.current(agent, now);
    if (found.length === 0 && now - this.missReloadAt > MISS_RELOAD_MS) {
      this.missReloadAt = now;
      await this.load(now);
      found = this.current(agent, now);
    }
    return found;
  }

  private current(agent: string, now: number): string[] {
    const stored = (this.stored.get(agent) ?? []).filter((k) => k.expiresAt === undefined || k.expiresAt > now).map((k) => k.key);
    return [...(this.fromConfig.get(agent) ?? []), ...stored];
  }

  // one read at a time, however many event batches ask
  private load(now: number): Promise<void> {
    this.loading ??= this.read(now).finally(() => (this.loading = undefined));
    return this.loading;
  }

  private async read(now: number): Promise<void> {
    const generation = this.generation;
    const next = new Map<string, { key: string; expiresAt?: number }[]>();
    for (const r of await this.tokens.agentTokens()) {
      if (r.eventKey === undefined) continue;
      next.set(r.name, [...(next.get(r.name) ?? []), { key: r.eventKey, ...(r.expiresAt !== undefined ? { expiresAt: r.expiresAt } : {}) }]);
    }
    this.stored = next;
    if (generation === this.generation) this.loadedAt = now;
  }
}
