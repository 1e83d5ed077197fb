/**
 * The one Redis URL every lab process takes (REDIS_URL, `--redis`), in three forms:
 *
 *   redis[s]://[user[:password]@]host:port[/db]                      one server
 *   redis[s]+cluster://[user[:password]@]host:port[,host:port…]      a Redis Cluster (seed nodes; db 0 only)
 *   redis[s]+sentinel://[user[:password]@]host:port[,host:port…]/<primary-name>[/db]
 *                                                                    the primary Sentinel names
 *
 * `rediss` means TLS. Query parameters the lab reads (any form): `tls_ca`, `tls_cert`, `tls_key` (PEM files,
 * rediss only) and, for Sentinel, `sentinel_password` (when the Sentinels want one). Other query parameters
 * of a plain URL reach ioredis as they always did. Parsing reads no file and opens no socket.
 */
import { z } from "zod";

export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
}

/** PEM files for TLS: a private CA, and a client certificate with its key for servers that ask for one. */
export interface RedisTlsFiles {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

interface TargetCommon {
  readonly username?: string;
  readonly password?: string;
  /** Set for rediss forms (TLS on), with the files when the URL names any. */
  readonly tls?: RedisTlsFiles;
}

export type RedisTarget =
  | (TargetCommon & { readonly mode: "standalone"; /** The URL for ioredis, without the lab's own query parameters. */ readonly url: string })
  | (TargetCommon & { readonly mode: "cluster"; readonly nodes: readonly RedisEndpoint[] })
  | (TargetCommon & {
      readonly mode: "sentinel";
      readonly sentinels: readonly RedisEndpoint[];
      readonly primary: string;
      readonly db: number;
      readonly sentinelPassword?: string;
    });

export class RedisUrlError extends Error {
  override name = "RedisUrlError";
}

const LAB_PARAMS = { tls_ca: "ca", tls_cert: "cert", tls_key: "key" } as const;
const SCHEME_RE = /^(rediss?)(?:\+(cluster|sentinel))?:\/\//i;
const FORMS = "redis://host:port, rediss://…, redis+cluster://host:port,host:port or redis+sentinel://host:port,host:port/<primary-name>";

/** Parses a lab Redis URL; throws RedisUrlError saying what is wrong (the URL may hold a password: never quoted). */
export function parseRedisUrl(url: string): RedisTarget {
  const scheme = SCHEME_RE.exec(url);
  if (!scheme) throw new RedisUrlError(`must be one of ${FORMS}`);
  const secure = scheme[1]?.toLowerCase() === "rediss";
  const mode = (scheme[2]?.toLowerCase() ?? "standalone") as RedisTarget["mode"];
  const rest = url.slice(scheme[0].length);
  const queryAt = rest.indexOf("?");
  const beforeQuery = queryAt < 0 ? rest : rest.slice(0, queryAt);
  const query = new URLSearchParams(queryAt < 0 ? "" : rest.slice(queryAt + 1));

  const tlsFiles: { ca?: string; cert?: string; key?: string } = {};
  for (const [param, field] of Object.entries(LAB_PARAMS)) {
    const value = query.get(param);
    if (value === null) continue;
    if (!secure) throw new RedisUrlError(`${param} is a TLS setting: use a rediss${mode === "standalone" ? "" : `+${mode}`}:// URL`);
    if (value === "") throw new RedisUrlError(`${param} names no file`);
    tlsFiles[field] = value;
    query.delete(param);
  }
  if ((tlsFiles.cert === undefined) !== (tlsFiles.key === undefined)) throw new RedisUrlError("tls_cert and tls_key go together (a client certificate and its private key)");
  const tls = secure ? { tls: tlsFiles as RedisTlsFiles } : {};

  if (mode === "standalone") {
    // ioredis reads a plain URL itself, as it always has; only the lab's parameters come out
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RedisUrlError(`is not a valid URL; expected ${FORMS}`);
    }
    if (parsed.hostname === "") throw new RedisUrlError("names no host");
    let plain = url;
    if (Object.keys(LAB_PARAMS).some((p) => parsed.searchParams.has(p))) {
      const rebuilt = new URL(url);
      for (const param of Object.keys(LAB_PARAMS)) rebuilt.searchParams.delete(param);
      plain = rebuilt.searchParams.size === 0 ? rebuilt.href.replace(/\?$/, "") : rebuilt.href;
    }
    return { mode, url: plain, ...credentials(parsed.username, parsed.password), ...tls };
  }

  const at = beforeQuery.lastIndexOf("@");
  const auth = at < 0 ? "" : beforeQuery.slice(0, at);
  const slash = beforeQuery.indexOf("/", at + 1);
  const hostList = slash < 0 ? beforeQuery.slice(at + 1) : beforeQuery.slice(at + 1, slash);
  const path = slash < 0 ? "" : beforeQuery.slice(slash + 1).replace(/\/$/, "");
  const colon = auth.indexOf(":");
  const cred = credentials(colon < 0 ? auth : auth.slice(0, colon), colon < 0 ? "" : auth.slice(colon + 1));
  const endpoints = parseEndpoints(hostList, mode === "cluster" ? "a cluster node" : "a Sentinel");

  if (mode === "cluster") {
    if (path !== "" && path !== "0") throw new RedisUrlError("a Redis Cluster has database 0 only: drop the /db from the URL");
    if (query.has("sentinel_password")) throw new RedisUrlError("sentinel_password is for redis+sentinel:// URLs");
    if (query.size > 0) throw new RedisUrlError(`unknown query parameter ${[...query.keys()][0]} (the lab reads tls_ca, tls_cert, tls_key)`);
    return { mode, nodes: endpoints, ...cred, ...tls };
  }

  const [primary = "", dbText = "0", ...extra] = path.split("/");
  if (primary === "") throw new RedisUrlError("names no primary: write redis+sentinel://host:port,…/<primary-name> (the name Sentinel monitors)");
  if (!/^[A-Za-z0-9._-]+$/.test(primary)) throw new RedisUrlError("the primary name may hold letters, digits, '.', '_' and '-' only");
  if (extra.length > 0 || !/^\d+$/.test(dbText)) throw new RedisUrlError("after the primary name comes the database number only (…/<primary-name>/<db>)");
  const sentinelPassword = query.get("sentinel_password") ?? undefined;
  query.delete("sentinel_password");
  if (query.size > 0) throw new RedisUrlError(`unknown query parameter ${[...query.keys()][0]} (the lab reads tls_ca, tls_cert, tls_key, sentinel_password)`);
  return {
    mode,
    sentinels: endpoints,
    primary,
    db: Number(dbText),
    ...(sentinelPassword ? { sentinelPassword } : {}),
    ...cred,
    ...tls,
  };
}

/** The message of a bad URL, or undefined: for configuration checks that report every problem at once. */
export function redisUrlProblem(url: string): string | undefined {
  try {
    parseRedisUrl(url);
    return undefined;
  } catch (err) {
    if (err instanceof RedisUrlError) return err.message;
    throw err;
  }
}

/** A lab Redis URL in a zod configuration schema: the issue says what is wrong with it. */
export const RedisUrlSchema = z.string().superRefine((url, ctx) => {
  const problem = redisUrlProblem(url);
  if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

/** Whether the URL carries a user name or password (`--redis` on a command line must not). */
export function redisUrlHasCredentials(url: string): boolean {
  const target = parseRedisUrl(url);
  return target.username !== undefined || target.password !== undefined;
}

function credentials(user: string, pass: string): { username?: string; password?: string } {
  const decode = (v: string, what: string) => {
    try {
      return decodeURIComponent(v);
    } catch {
      throw new RedisUrlError(`the ${what} in the URL is not valid percent-encoding`);
    }
  };
  return { ...(user === "" ? {} : { username: decode(user, "user name") }), ...(pass === "" ? {} : { password: decode(pass, "password") }) };
}

function parseEndpoints(list: string, what: string): RedisEndpoint[] {
  if (list === "") throw new RedisUrlError(`names no host: list ${what} as host:port (several separated by commas)`);
  return list.split(",").map((item) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/.exec(item);
    const port = Number(m?.[2] ?? (what === "a Sentinel" ? 26379 : 6379));
    if (!m?.[1] || port < 1 || port > 65535) throw new RedisUrlError(`"${item}" is not host:port (${what})`);
    return { host: m[1].replace(/^\[|\]$/g, ""), port };
  });
}
