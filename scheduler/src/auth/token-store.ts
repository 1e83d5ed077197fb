import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { RedisClient } from "@hil/lab-protocol/redis";
import { decodeJson, type LabKeys } from "@hil/contracts";
import { deriveEventKey } from "@hil/lab-protocol";
import { z } from "zod";
import { ScopeSchema, type Identity } from "./identity.js";
import { defaultMaxPriority, RoleSchema } from "./roles.js";

export const TokenRecordSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: RoleSchema,
    kind: z.enum(["token", "session"]),
    /** SHA-256 (hex) of the whole token string; the token itself is shown once and never stored. */
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    /**
     * Role agent only: the key the agent signs its Redis events with, derived from the token
     * (`deriveEventKey`, @hil/lab-protocol), so the scheduler verifies events without the token.
     * A secret like the token: never shown by the API.
     */
    eventKey: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    scope: ScopeSchema,
    maxPriority: z.number().int().min(0).max(100).optional(),
    createdAt: z.number().int(),
    createdBy: z.string(),
    expiresAt: z.number().int().optional(),
    revokedAt: z.number().int().optional(),
    revokedBy: z.string().optional(),
  })
  .strict();
export type TokenRecord = z.infer<typeof TokenRecordSchema>;

/** What `GET /tokens` shows: never the hash. */
export type TokenView = Omit<TokenRecord, "hash" | "eventKey"> & { lastUsedAt?: number };

const TOKEN_RE = /^hil_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function sha256Hex(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

/** A config token (HIL_ADMIN_TOKEN, HIL_TOKENS): compared by digest, in constant time. */
export interface ConfigToken {
  readonly name: string;
  readonly role: z.infer<typeof RoleSchema>;
  readonly token: string;
}

/**
 * API tokens in Redis: `hil_<id>_<secret>`. The id finds the record; the SHA-256 of the presented
 * string is compared with the stored one in constant time. Revoked and expired records stay listed
 * (who had access when) until an admin deletes them; they never authenticate.
 */
export type TokenChange = "created" | "revoked";
export type TokenListener = (change: TokenChange, record: TokenRecord) => void | Promise<void>;

export class TokenStore {
  private readonly config: { digest: Buffer; token: ConfigToken }[];
  private readonly lastUsedWritten = new Map<string, number>();
  private readonly listeners = new Set<TokenListener>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: LabKeys,
    configTokens: readonly ConfigToken[],
  ) {
    this.config = configTokens.map((t) => ({ digest: createHash("sha256").update(t.token).digest(), token: t }));
  }

  /** Called after a token is stored or revoked (Redis ACL users follow agent tokens); returns the unsubscribe. */
  onChange(listener: TokenListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async notify(change: TokenChange, record: TokenRecord): Promise<void> {
    for (const l of this.listeners) await l(change, record);
  }

  /** Config tokens, for code that must know them all (e.g. agent credentials from HIL_TOKENS). */
  configTokens(): readonly ConfigToken[] {
    return this.config.map((c) => c.token);
  }

  static newToken(): { id: string; token: string } {
    const id = randomBytes(8).toString("hex");
    return { id, token: `hil_${id}_${randomBytes(32).toString("base64url")}` };
  }

  async create(input: Omit<TokenRecord, "id" | "hash" | "eventKey" | "createdAt" | "kind"> & { kind?: TokenRecord["kind"] }, now = Date.now()): Promise<{ token: string; record: TokenRecord }> {
    const { id, token } = TokenStore.newToken();
    const eventKey = input.role === "agent" ? { eventKey: deriveEventKey(token) } : {};
    const record = TokenRecordSchema.parse({ kind: "token", ...input, id, hash: sha256Hex(token), ...eventKey, createdAt: now });
    await this.redis.hset(this.keys.tokens(), id, JSON.stringify(record));
    await this.notify("created", record);
    return { token, record };
  }

  /** The identity a presented bearer string stands for, or undefined. Never throws on odd input. */
  async authenticate(presented: string, now = Date.now()): Promise<Identity | undefined> {
    const digest = createHash("sha256").update(presented).digest();
    // Every config token is compared, whatever matches first: the time taken says nothing about which.
    let fromConfig: ConfigToken | undefined;
    for (const c of this.config) if (timingSafeEqual(c.digest, digest)) fromConfig = c.token;
    if (fromConfig) return { name: fromConfig.name, role: fromConfig.role, via: "config", scope: {}, maxPriority: defaultMaxPriority(fromConfig.role) };
    const m = TOKEN_RE.exec(presented);
    if (!m?.[1]) return undefined;
    const record = await this.get(m[1]);
    if (!record || record.revokedAt !== undefined) return undefined;
    if (record.expiresAt !== undefined && record.expiresAt <= now) return undefined;
    if (!timingSafeEqual(Buffer.from(record.hash, "hex"), digest)) return undefined;
    this.touch(record.id, now);
    return {
      name: record.name,
      role: record.role,
      via: record.kind === "session" ? "session" : "token",
      tokenId: record.id,
      scope: record.scope,
      maxPriority: record.maxPriority ?? defaultMaxPriority(record.role),
    };
  }

  async get(id: string): Promise<TokenRecord | undefined> {
    return decodeJson(TokenRecordSchema, await this.redis.hget(this.keys.tokens(), id));
  }

  /** Every stored record that parses (a damaged one is skipped), revoked and expired ones included. */
  async records(): Promise<TokenRecord[]> {
    const all = await this.redis.hgetall(this.keys.tokens());
    return Object.values(all).flatMap((raw) => decodeJson(TokenRecordSchema, raw) ?? []);
  }

  /** Stored tokens of role agent not revoked (expiry is the caller's to check: it may check later). */
  async agentTokens(): Promise<TokenRecord[]> {
    return (await this.records()).filter((r) => r.role === "agent" && r.kind === "token" && r.revokedAt === undefined);
  }

  async list(opts: { includeSessions?: boolean } = {}): Promise<TokenView[]> {
    const [all, used] = await Promise.all([this.records(), this.redis.hgetall(this.keys.tokensUsed())]);
    const out: TokenView[] = [];
    for (const record of all) {
      if (record.kind === "session" && !opts.includeSessions) continue;
      const { hash: _hash, eventKey: _eventKey, ...view } = record;
      const last = used[view.id];
      out.push({ ...view, ...(last !== undefined ? { lastUsedAt: Number(last) } : {}) });
    }
    return out.sort((a, b) => a.createdAt - b.createdAt);
  }

  /** Marks a token revoked; it stops working at once. Returns the record, or undefined when unknown. */
  async revoke(id: string, by: string, now = Date.now()): Promise<TokenRecord | undefined> {
    const record = await this.get(id);
    if (!record) return undefined;
    if (record.revokedAt !== undefined) return record;
    const next: TokenRecord = { ...record, revokedAt: now, revokedBy: by };
    await this.redis.hset(this.keys.tokens(), id, JSON.stringify(next));
    await this.notify("revoked", next);
    return next;
  }

  /** Sessions that ended or were revoked a day ago go for good (they say nothing an audit entry does not). */
  async purgeSessions(now = Date.now()): Promise<number> {
    const gone: string[] = [];
    for (const r of await this.records()) {
      const ended = r.revokedAt ?? r.expiresAt;
      if (r.kind === "session" && ended !== undefined && ended < now - 86_400_000) gone.push(r.id);
    }
    if (gone.length) await this.redis.multi().hdel(this.keys.tokens(), ...gone).hdel(this.keys.tokensUsed(), ...gone).exec();
    return gone.length;
  }

  // last-used is informative: written at most once a minute per token, and never awaited by a request
  private touch(id: string, now: number): void {
    if (now - (this.lastUsedWritten.get(id) ?? 0) < 60_000) return;
    this.lastUsedWritten.set(id, now);
    this.redis.hset(this.keys.tokensUsed(), id, String(now)).catch(() => this.lastUsedWritten.delete(id));
  }
}
