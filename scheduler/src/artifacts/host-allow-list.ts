import { z } from "zod";

/** One entry of HIL_FETCH_ALLOW_HOSTS: a host name or address, optionally pinned to one port. */
export interface AllowedHost {
  readonly host: string;
  readonly port?: number;
}

const NAME_RE = /^[a-z0-9]([a-z0-9-]{0,62})(\.[a-z0-9]([a-z0-9-]{0,62}))*$/;
const IPV6_RE = /^[0-9a-f:.]+$/;

/** Lowercase, without IPv6 brackets and without a trailing dot: the form URL host names are compared in. */
export function normalizeHost(host: string): string {
  const h = host.trim().toLowerCase().replace(/\.$/, "");
  return h.startsWith("[") && h.endsWith("]") ? h.slice(1, -1) : h;
}

function parseEntry(raw: string): AllowedHost | undefined {
  const entry = raw.trim().toLowerCase();
  // "[::1]:8080", "[::1]", "::1", "host", "host:8080", "10.0.0.5:80"
  const bracketed = /^\[([0-9a-f:.]+)\](?::(\d{1,5}))?$/.exec(entry);
  let host: string;
  let port: string | undefined;
  if (bracketed) [, host = "", port] = bracketed;
  else if ((entry.match(/:/g) ?? []).length > 1) host = entry;
  else [host = "", port] = entry.split(":");
  host = normalizeHost(host);
  if (!NAME_RE.test(host) && !(host.includes(":") && IPV6_RE.test(host))) return undefined;
  if (port === undefined) return { host };
  const n = Number(port);
  return n >= 1 && n <= 65535 ? { host, port: n } : undefined;
}

/** `HIL_FETCH_ALLOW_HOSTS`: comma-separated host names or addresses, each optionally with `:port`. */
export const HostAllowListSchema = z.string().transform((raw, ctx) => {
  const out: AllowedHost[] = [];
  for (const part of raw.split(",").map((p) => p.trim()).filter(Boolean)) {
    const entry = parseEntry(part);
    if (entry) out.push(entry);
    else ctx.addIssue({ code: "custom", message: `"${part.slice(0, 60)}" is not a host name, address or host:port` });
  }
  return out;
});

/** Whether the list names this host (and, when the entry has one, this port). */
export function hostAllowed(list: readonly AllowedHost[], host: string, port: number): boolean {
  const h = normalizeHost(host);
  return list.some((e) => e.host === h && (e.port === undefined || e.port === port));
}
