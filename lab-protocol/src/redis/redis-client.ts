import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import { Cluster, Redis, type RedisOptions } from "ioredis";
import { parseRedisUrl, RedisUrlError, type RedisTarget, type RedisTlsFiles } from "./redis-url.js";

/**
 * A connection to the lab's Redis, whichever form it has: one server (or the primary Sentinel names), or a
 * Redis Cluster. Every lab key carries the `{namespace}` hash tag, so on a cluster each command, script,
 * MULTI and multi-stream XREAD of one lab lands in one slot and runs as on one server. Code that must reach
 * every server (ACL users live per node) uses `everyNode`.
 */
export type RedisClient = Redis | Cluster;

/** What callers tune per connection; the URL says where and who. */
export interface RedisClientOptions {
  /** Added to (and winning over) the URL's credentials: an agent logging in as its own ACL user. */
  username?: string;
  password?: string;
  /** `null` for BullMQ workers and blocking readers (never give up on a command). */
  maxRetriesPerRequest?: number | null;
  enableAutoPipelining?: boolean;
  enableReadyCheck?: boolean;
  lazyConnect?: boolean;
  connectTimeout?: number;
}

/** One factory for the scheduler, the agent and the dashboard: `new Redis` or `new Cluster` from the URL. */
export function createRedisClient(url: string, options: RedisClientOptions = {}): RedisClient {
  return clientFor(parseRedisUrl(url), options);
}

function clientFor(target: RedisTarget, options: RedisClientOptions = {}): RedisClient {
  const { enableAutoPipelining, enableReadyCheck, lazyConnect, ...perNode } = options;
  const login = {
    ...(target.username === undefined ? {} : { username: target.username }),
    ...(target.password === undefined ? {} : { password: target.password }),
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
  };
  const tls = target.tls === undefined ? {} : { tls: tlsOptions(target.tls) };
  const common = {
    ...(enableAutoPipelining === undefined ? {} : { enableAutoPipelining }),
    ...(enableReadyCheck === undefined ? {} : { enableReadyCheck }),
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
  };
  const node: RedisOptions = { ...perNode, ...login, ...tls };
  switch (target.mode) {
    case "standalone":
      return new Redis(target.url, { ...node, ...common });
    case "sentinel":
      return new Redis({
        ...node,
        ...common,
        sentinels: target.sentinels.map((s) => ({ host: s.host, port: s.port })),
        name: target.primary,
        db: target.db,
        ...(target.sentinelPassword === undefined ? {} : { sentinelPassword: target.sentinelPassword }),
        // follow +switch-master at once rather than when the old primary, demoted, drops the connection
        failoverDetector: true,
        // the Sentinels speak TLS too when the URL says rediss
        ...(target.tls === undefined ? {} : { enableTLSForSentinelMode: true, sentinelTLS: tlsOptions(target.tls) }),
      });
    case "cluster":
      // BullMQ reads maxRetriesPerRequest from redisOptions on a cluster; slot moves are followed by ioredis
      return new Cluster(
        target.nodes.map((n) => ({ host: n.host, port: n.port })),
        { ...common, redisOptions: node },
      );
  }
}

/** A second connection like `client` (same servers, login and options): for blocking reads and subscriptions. */
export function duplicateClient(client: RedisClient): RedisClient {
  // two branches because the two `duplicate` signatures cannot be called through the union
  return isCluster(client) ? client.duplicate() : client.duplicate();
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/**
 * Every server behind the client: itself, or each node of a cluster (primaries and replicas), for what Redis
 * keeps per server and does not replicate: ACL users, CLIENT KILL.
 */
export function everyNode(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes("all") : [client];
}

/**
 * A connection error as an operator can act on it: a cluster client that could not read the slot map says only
 * "Failed to refresh slots cache."; the last node's own answer (WRONGPASS, NOPERM, ECONNREFUSED) is appended.
 */
export function explainRedisError(err: Error): Error {
  const last = (err as { lastNodeError?: unknown }).lastNodeError;
  if (!(last instanceof Error) || err.message.includes(last.message)) return err;
  return new Error(`${err.message} Last node answered: ${last.message}`, { cause: err });
}

function tlsOptions(files: RedisTlsFiles): ConnectionOptions {
  const read = (file: string | undefined, param: string) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new RedisUrlError(`cannot read ${file} (${param} in the Redis URL): ${(err as Error).message}`);
    }
  };
  const ca = read(files.ca, "tls_ca");
  const cert = read(files.cert, "tls_cert");
  const key = read(files.key, "tls_key");
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}
