import type { LookupAddress } from "node:dns";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { ArtifactRef } from "@hil/contracts";
import { refusedBecause } from "./address-policy.js";
import { ArtifactTooLargeError } from "./artifact-too-large-error.js";
import type { FsArtifactStore } from "./fs-artifact-store.js";
import { hostAllowed, normalizeHost, type AllowedHost } from "./host-allow-list.js";
import { pinnedLookup, resolveAll } from "./pinned-lookup.js";

const MAX_REDIRECTS = 5;

/** Why an artifact URL was not fetched; the message says what to change. */
export class ArtifactFetchError extends Error {
  override name = "ArtifactFetchError";
}

export interface ArtifactFetcherOptions {
  /** Larger bodies are refused and nothing is kept (HIL_UPLOAD_MAX). */
  maxBytes: number;
  /** The whole fetch, redirects and body included (HIL_FETCH_TIMEOUT). */
  timeoutMs: number;
  /** Hosts that may be at internal addresses and may be redirected to (HIL_FETCH_ALLOW_HOSTS). */
  allowHosts: readonly AllowedHost[];
  /** Resolves a host name to every address; dns.lookup by default. */
  resolve?: (host: string) => Promise<LookupAddress[]>;
}

interface Target {
  url: URL;
  host: string;
  port: number;
  address: LookupAddress;
}

function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * Fetches an artifact named by URL into the store, streamed and hashed like an upload. The scheduler
 * runs inside the lab network, so a URL is a way to make it connect somewhere on a submitter's behalf:
 * only http(s); the host's RESOLVED addresses must be public unless the host is allowed; the
 * connection goes to the address that was checked (no DNS rebinding in between); redirects are
 * followed by hand, each hop checked again, and only within the first host unless the target is
 * allowed; the body is capped and the whole fetch has a deadline.
 */
export class ArtifactFetcher {
  private readonly resolve: (host: string) => Promise<LookupAddress[]>;

  constructor(
    private readonly store: FsArtifactStore,
    private readonly opts: ArtifactFetcherOptions,
  ) {
    this.resolve = opts.resolve ?? resolveAll;
  }

  async fetch(rawUrl: string): Promise<ArtifactRef> {
    const deadline = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      return await this.follow(rawUrl, deadline);
    } catch (err) {
      if (deadline.aborted) throw new ArtifactFetchError(`fetching ${rawUrl} took longer than ${this.opts.timeoutMs} ms (HIL_FETCH_TIMEOUT); nothing was stored`);
      if (err instanceof ArtifactFetchError) throw err;
      if (err instanceof ArtifactTooLargeError) throw new ArtifactFetchError(`${rawUrl} is larger than ${this.opts.maxBytes} bytes (HIL_UPLOAD_MAX); nothing was stored`);
      throw new ArtifactFetchError(`could not fetch ${rawUrl}: ${(err as Error).message}`);
    }
  }

  private async follow(rawUrl: string, signal: AbortSignal): Promise<ArtifactRef> {
    let url = this.parse(rawUrl);
    const firstHost = normalizeHost(url.hostname);
    for (let hop = 0; ; hop++) {
      const target = await this.check(url, signal);
      const res = await this.get(target, signal);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && status !== 304) {
        res.resume();
        const location = res.headers.location;
        if (!location) throw new ArtifactFetchError(`${url.href} answered ${status} without a Location`);
        if (hop >= MAX_REDIRECTS) throw new ArtifactFetchError(`${rawUrl} redirects more than ${MAX_REDIRECTS} times`);
        const next = this.parse(new URL(location, url).href);
        const nextHost = normalizeHost(next.hostname);
        if (nextHost !== firstHost && !hostAllowed(this.opts.allowHosts, nextHost, portOf(next))) {
          throw new ArtifactFetchError(
            `${rawUrl} redirects to another host (${next.host}); redirects are followed only within ${url.host} unless HIL_FETCH_ALLOW_HOSTS names the target`,
          );
        }
        url = next;
        continue;
      }
      if (status < 200 || status >= 300) {
        res.resume();
        throw new ArtifactFetchError(`fetching ${url.href} answered ${status}`);
      }
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > this.opts.maxBytes) {
        res.destroy();
        throw new ArtifactTooLargeError(this.opts.maxBytes);
      }
      const { sha256, size } = await this.store.put(res, { maxBytes: this.opts.maxBytes });
      return { sha256, size };
    }
  }

  private parse(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new ArtifactFetchError(`"${raw}" is not a URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new ArtifactFetchError(`${url.protocol} URLs are not fetched; use http or https`);
    return url;
  }

  /** Resolves the host and checks every address it has; returns the one to connect to. */
  private async check(url: URL, signal: AbortSignal): Promise<Target> {
    const host = normalizeHost(url.hostname);
    const port = portOf(url);
    let addresses: LookupAddress[];
    try {
      addresses = await raceAbort(this.resolve(host), signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new ArtifactFetchError(`cannot resolve ${host}: ${(err as Error).message}`);
    }
    const first = addresses[0];
    if (!first) throw new ArtifactFetchError(`${host} has no address`);
    if (!hostAllowed(this.opts.allowHosts, host, port)) {
      for (const a of addresses) {
        const why = refusedBecause(a.address);
        if (why) {
          throw new ArtifactFetchError(
            `${url.host} resolves to ${a.address}, ${why}; the scheduler fetches only from public addresses unless HIL_FETCH_ALLOW_HOSTS names the host (e.g. HIL_FETCH_ALLOW_HOSTS=${url.host})`,
          );
        }
      }
    }
    return { url, host, port, address: first };
  }

  private get(t: Target, signal: AbortSignal): Promise<IncomingMessage> {
    const request = t.url.protocol === "https:" ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request({
        protocol: t.url.protocol,
        hostname: t.host,
        port: t.port,
        path: `${t.url.pathname}${t.url.search}`,
        method: "GET",
        headers: { "user-agent": "hil-scheduler", accept: "*/*" },
        // a fresh connection per hop, to the checked address only (a pooled one may lead elsewhere)
        agent: false,
        lookup: pinnedLookup(t.address),
        signal,
      });
      req.once("response", resolve);
      req.once("error", reject);
      req.end();
    });
  }
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}
