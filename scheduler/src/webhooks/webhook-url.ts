import { isIP } from "node:net";
import { refusedBecause } from "../artifacts/address-policy.js";
import { hostAllowed, normalizeHost, type AllowedHost } from "../artifacts/host-allow-list.js";

/** Why a string cannot be a webhook URL (undefined: it can). */
export function webhookUrlProblem(raw: string): string | undefined {
  if (raw.length > 2048) return "longer than 2048 characters";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return "only http:// and https:// URLs";
  if (url.username || url.password) return "put no credentials in the URL: receivers check the signature instead";
  if (url.hash) return "a URL with a #fragment is not sent anywhere; drop it";
  return undefined;
}

export function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

/**
 * Why a token's webhook may not point at this URL's host as written (an address literal or localhost in
 * a private, loopback or otherwise internal range), unless the lab allows the host. Host names are checked
 * again on every delivery against the addresses they resolve to.
 */
export function literalHostRefused(url: URL, allow: readonly AllowedHost[]): string | undefined {
  const host = normalizeHost(url.hostname);
  if (hostAllowed(allow, host, portOf(url))) return undefined;
  if (host === "localhost" || host.endsWith(".localhost")) return "a loopback address";
  return isIP(host) === 0 ? undefined : refusedBecause(host);
}
