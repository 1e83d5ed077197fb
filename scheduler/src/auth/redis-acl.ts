import { agentRedisUser, type LabKeys } from "@hil/contracts";
import { everyNode, type RedisClient } from "@hil/lab-protocol/redis";
import type { Logger } from "pino";
import { sha256Hex, type TokenRecord, type TokenStore } from "./token-store.js";

export type RedisAclMode = "auto" | "off";

/** Agent names are queue names: nothing a Redis glob pattern would read as a wildcard. */
const AGENT_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Every command an agent sends, directly or from a Lua script (Redis checks script commands against
 * the caller's user too). The direct ones were read off MONITOR while a real agent registered, took a
 * job, finished it and stopped; the data commands are every command in BullMQ's scripts (a Worker
 * may run any of them: retries, stalled jobs, lock extension) and in the lab's own scripts.
 */
export const AGENT_COMMANDS = [
  // connection: ioredis' HELLO/AUTH and ready check (INFO), BullMQ's client name, a db in the URL
  "auth", "hello", "ping", "info", "select", "quit", "client|setname",
  // a Redis Cluster client's slot map and ready check (docs/redis.md)
  "cluster|slots", "cluster|info",
  // scripts (claim-boards, start-job, lease renewal, BullMQ's) and the heartbeat's MULTI
  "eval", "evalsha", "multi", "exec", "discard",
  // the cancel channel
  "subscribe", "unsubscribe",
  // strings and keys
  "get", "mget", "set", "del", "unlink", "exists", "incr", "incrby", "pexpire", "pexpireat", "persist", "pttl", "type", "rename", "time",
  // hashes (board hashes, BullMQ jobs)
  "hget", "hmget", "hgetall", "hset", "hmset", "hdel", "hexists", "hincrby", "hlen",
  // sets (the agents and boards sets, BullMQ)
  "sadd", "srem", "scard", "smembers", "sismember",
  // lists and sorted sets (BullMQ)
  "lpush", "rpush", "lpop", "rpop", "rpoplpush", "lrange", "lrem", "llen", "lindex", "lpos", "lset", "ltrim",
  "zadd", "zrem", "zscore", "zcard", "zcount", "zlexcount", "zrange", "zrangebyscore", "zrangebylex", "zrevrange", "zrevrangebyscore",
  "zremrangebyscore", "zremrangebyrank", "zpopmin", "bzpopmin",
  // streams (events, logs, BullMQ's event stream)
  "xadd", "xtrim", "xdel", "xlen", "xrange", "xrevrange", "xread",
] as const;

/**
 * An agent's Redis user: its own BullMQ queue, its liveness key, the agents and boards sets, board
 * hashes, leases, log streams, the events stream and the cancel channel. Not tokens, users, audit,
 * runs, the pending sets, bookings, usage, nor another agent's queue.
 */
export function agentAclRules(keys: LabKeys, agent: string, opts: { readOnlyPatterns?: boolean } = {}): string[] {
  return [
    "resetkeys",
    "resetchannels",
    "-@all",
    ...AGENT_COMMANDS.map((c) => `+${c}`),
    `~${keys.bullPrefix}:${keys.agentQueue(agent)}:*`,
    `~${keys.agent(agent)}`,
    // Redis 7: read (only) other agents' liveness, so a board a dead agent left can be claimed
    ...(opts.readOnlyPatterns === false ? [] : [`%R~${keys.agent("*")}`]),
    `~${keys.agents()}`,
    `~${keys.board("*")}`,
    `~${keys.boards()}`,
    `~${keys.lease("*")}`,
    `~${keys.boardLog("*")}`,
    `~${keys.boardLogSeq("*")}`,
    `~${keys.runLog("*")}`,
    `~${keys.events()}`,
    `&${keys.cancelChannel()}`,
  ];
}

/**
 * What an operator of a shared Redis gives the `hil-scheduler` user: the lab's keys and channels, every
 * command but the dangerous ones, and back from those the few the scheduler uses: INFO (/healthz,
 * BullMQ), and the ACL and CLIENT KILL calls that keep agent users in step with agent tokens.
 * Whoever may run ACL SETUSER can give itself anything: run with HIL_REDIS_ACL=off and create the
 * agent users yourself if the scheduler must not hold that.
 */
export function schedulerAclRules(keys: LabKeys): string[] {
  return [
    `~${keys.bullPrefix}:*`,
    `&${keys.bullPrefix}:*`,
    "+@all",
    "-@dangerous",
    "+info",
    "+acl|setuser",
    "+acl|deluser",
    "+acl|users",
    "+acl|getuser",
    "+client|kill",
  ];
}

type AclState = "pending" | "active" | "unsupported" | "denied" | "off";

export interface RedisAclSyncDeps {
  redis: RedisClient;
  keys: LabKeys;
  namespace: string;
  tokens: Pick<TokenStore, "configTokens" | "onChange" | "agentTokens">;
  log: Pick<Logger, "info" | "warn" | "error">;
  mode: RedisAclMode;
  /** Full reconcile period: catches expiry, another scheduler's changes and a lost race (default 60 s). */
  resyncMs?: number;
}

/**
 * Keeps one Redis ACL user per live agent token (`hil-agent-<ns>-<name>`, password = the token,
 * given to Redis as the SHA-256 the token store keeps). ACLs live in Redis' memory: the users are
 * made again on start, whenever the connection becomes ready after a reconnect (a restarted Redis
 * lost them), on a period, and at once when an agent token is created or revoked. A Redis without
 * ACL (before 6) or a scheduler user that may not manage them is logged once; the password alone
 * then guards Redis.
 */
export class RedisAclSync {
  private state: AclState;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly followUps = new Set<NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;
  private major: Promise<number> | undefined;
  private readonly onReady = () => {
    this.major = undefined;
    void this.sync();
  };
  private readonly userPrefix: string;

  constructor(private readonly deps: RedisAclSyncDeps) {
    this.state = deps.mode === "off" ? "off" : "pending";
    this.userPrefix = agentRedisUser(deps.namespace, "");
  }

  /** `active` once agent users are being kept; `unsupported` / `denied` when Redis will not have them. */
  get status(): AclState {
    return this.state;
  }

  async start(): Promise<void> {
    if (this.deps.mode === "off") return;
    this.unsubscribe = this.deps.tokens.onChange((change, record) =>
      change === "created" ? this.agentTokenCreated(record) : this.agentTokenRevoked(record),
    );
    this.deps.redis.on("ready", this.onReady);
    // a cluster node that (re)joins the client's pool may be one that restarted and lost its users
    this.deps.redis.on("+node", this.onReady);
    this.timer = setInterval(() => void this.sync(), this.deps.resyncMs ?? 60_000);
    this.timer.unref();
    await this.sync();
  }

  stop(): void {
    this.unsubscribe?.();
    this.deps.redis.off("ready", this.onReady);
    this.deps.redis.off("+node", this.onReady);
    if (this.timer) clearInterval(this.timer);
    for (const t of this.followUps) clearTimeout(t);
    this.followUps.clear();
  }

  /** A new agent token: its user gets the token's hash at once (the agent may connect right away). */
  async agentTokenCreated(record: TokenRecord): Promise<void> {
    if (record.role !== "agent" || record.kind !== "token") return;
    await this.guard(() => this.syncAgent(record.name));
  }

  /**
   * A revoked agent token: its hash leaves the user (the user goes when none is left) and the user's
   * connections are killed, so an agent still holding the token is out now, not at its next login.
   * A reconcile another scheduler began before the revocation could put the hash back; a second
   * pass a moment later takes it out again.
   */
  async agentTokenRevoked(record: TokenRecord): Promise<void> {
    if (record.role !== "agent" || record.kind !== "token") return;
    await this.guard(() => this.syncAgent(record.name, record.hash));
    const later = setTimeout(() => {
      this.followUps.delete(later);
      void this.guard(() => this.syncAgent(record.name, record.hash, false));
    }, 2000);
    later.unref();
    this.followUps.add(later);
  }

  /** Full reconcile: every live agent token has its user, and no user of this namespace outlives its tokens. */
  sync(): Promise<void> {
    if (this.deps.mode === "off") return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.guard(() => this.reconcile());
      } while (this.again);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async reconcile(): Promise<void> {
    // Users are listed before tokens: a user another scheduler makes after this listing is never
    // taken for a stale one, and its token (stored first) is seen below.
    const existing = ((await this.deps.redis.call("ACL", "USERS")) as string[]).filter((u) => u.startsWith(this.userPrefix));
    const wanted = await this.liveAgentHashes();
    for (const [agent, hashes] of wanted) await this.setUser(agent, hashes);
    for (const user of existing) {
      const agent = user.slice(this.userPrefix.length);
      if (!wanted.has(agent) && (await this.owner(user, agent)) === "ours") await this.dropUser(user);
    }
    this.becomes("active");
  }

  private async syncAgent(agent: string, revokedHash?: string, killOnRevoke = true): Promise<void> {
    const hashes = (await this.liveAgentHashes()).get(agent) ?? new Set<string>();
    if (revokedHash !== undefined) hashes.delete(revokedHash);
    const user = agentRedisUser(this.deps.namespace, agent);
    if (hashes.size > 0) {
      await this.setUser(agent, hashes);
      if (revokedHash !== undefined && killOnRevoke) await this.killClients(user);
    } else if ((await this.owner(user, agent)) === "ours") {
      await this.dropUser(user);
    }
    this.becomes("active");
  }

  /** Agent name → SHA-256 of each of its live tokens (configuration and stored). */
  private async liveAgentHashes(now = Date.now()): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const add = (name: string, hash: string) => {
      if (!AGENT_NAME_RE.test(name)) {
        this.deps.log.warn({ name }, "agent token name is not an agent name; no Redis user made for it");
        return;
      }
      const set = out.get(name) ?? new Set<string>();
      set.add(hash);
      out.set(name, set);
    };
    for (const c of this.deps.tokens.configTokens()) if (c.role === "agent") add(c.name, sha256Hex(c.token));
    for (const r of await this.deps.tokens.agentTokens()) {
      if (r.expiresAt !== undefined && r.expiresAt <= now) continue;
      add(r.name, r.hash);
    }
    return out;
  }

  private async setUser(agent: string, hashes: Set<string>): Promise<void> {
    const user = agentRedisUser(this.deps.namespace, agent);
    if ((await this.owner(user, agent)) === "other") {
      this.deps.log.error({ user }, "a Redis user of another lab namespace has this agent's user name (namespace a + agent b-c = namespace a-b + agent c); rename the agent");
      return;
    }
    // One SETUSER applies every rule or none: the user never exists half-made.
    const rules = agentAclRules(this.deps.keys, agent, { readOnlyPatterns: (await this.redisMajor()) >= 7 });
    await this.onEveryNode("ACL", "SETUSER", user, "reset", "on", ...[...hashes].map((h) => `#${h}`), ...rules);
  }

  /** Read-only key patterns (`%R~`) came with Redis 7. */
  private redisMajor(): Promise<number> {
    this.major ??= this.deps.redis.info("server").then(
      (info) => Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0),
      () => {
        this.major = undefined;
        return 0;
      },
    );
    return this.major;
  }

  private async dropUser(user: string): Promise<void> {
    await this.onEveryNode("ACL", "SETUSER", user, "off");
    await this.killClients(user);
    await this.onEveryNode("ACL", "DELUSER", user);
    this.deps.log.info({ user }, "Redis user of a revoked or expired agent token removed");
  }

  private async killClients(user: string): Promise<void> {
    try {
      await this.onEveryNode("CLIENT", "KILL", "USER", user);
    } catch (err) {
      // a user that never connected (or is gone already) has nothing to kill
      if (!/no such user/i.test((err as Error).message)) throw err;
    }
  }

  /**
   * ACL users and client connections are each server's own: on a Redis Cluster every node (primaries and
   * replicas) gets the command, so an agent is the same user whichever node its client reaches.
   */
  private async onEveryNode(...args: [string, ...(string | number)[]]): Promise<void> {
    const [command, ...rest] = args;
    const nodes = everyNode(this.deps.redis);
    if (nodes.length === 0) throw new Error("the Redis Cluster client has no node yet; retrying when it is ready");
    await Promise.all(nodes.map((node) => node.call(command, ...rest)));
  }

  /**
   * Another namespace's user can share our prefix (`hil-agent-a-b-c` is agent `b-c` of namespace
   * `a`, or agent `c` of namespace `a-b`): a user is ours only when it holds our agent's queue
   * pattern, and another's when it holds other key patterns; one with none is free to take.
   */
  private async owner(user: string, agent: string): Promise<"ours" | "other" | "free"> {
    if (!AGENT_NAME_RE.test(agent)) return "other";
    const info = (await this.deps.redis.call("ACL", "GETUSER", user)) as unknown[] | null;
    if (!info) return "free";
    const at = info.findIndex((v) => String(v) === "keys");
    const keys = at < 0 ? "" : JSON.stringify(info[at + 1] ?? "");
    const pattern = `~${this.deps.keys.bullPrefix}:${this.deps.keys.agentQueue(agent)}:*`;
    if (keys.includes(JSON.stringify(pattern).slice(1, -1))) return "ours";
    return /~/.test(keys) ? "other" : "free";
  }

  private async guard(work: () => Promise<void>): Promise<void> {
    if (this.state === "off") return;
    try {
      await work();
    } catch (err) {
      const msg = (err as Error).message;
      if (/unknown command [`'"]?acl/i.test(msg)) {
        this.becomes("unsupported", msg);
      } else if (/^NOPERM/.test(msg)) {
        this.becomes("denied", msg);
      } else {
        this.deps.log.error({ err: msg }, "Redis ACL users not updated; retrying at the next reconcile");
      }
    }
  }

  private becomes(next: AclState, why?: string): void {
    if (next === this.state) return;
    this.state = next;
    if (next === "active") this.deps.log.info({}, "Redis ACL: one user per agent token");
    else if (next === "unsupported") {
      this.deps.log.warn({ err: why }, "this Redis has no ACL (Redis 6 or later has); agents log in with the Redis password, which opens every key");
    } else if (next === "denied") {
      this.deps.log.error(
        { err: why },
        "the scheduler's Redis user may not manage ACL users: grant it +acl|setuser +acl|deluser +acl|users +acl|getuser +client|kill (docs/security.md), or set HIL_REDIS_ACL=off and create the agent users yourself",
      );
    }
  }
}
