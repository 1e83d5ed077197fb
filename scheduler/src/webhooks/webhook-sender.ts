import type { LookupAddress } from "node:dns";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { refusedBecause } from "../artifacts/address-policy.js";
import { hostAllowed, normalizeHost, type AllowedHost } from "../artifacts/host-allow-list.js";
import { portOf } from "./webhook-url.js";
import { pinnedLookup, resolveAll } from "../artifacts/pinned-lookup.js";

export interface WebhookPost {
  url: string;
  body: string;
  headers: Record<string, string>;
  /** A token's webhook goes only to public addresses unless `allowHosts` names its host; the lab's own are trusted. */
  checkAddress: boolean;
  allowHosts: readonly AllowedHost[];
  timeoutMs: number;
}

/** What a delivery attempt came to: delivered (a 2xx), or why not. */
export type WebhookAttemptResult = { ok: true; status: number } | { ok: false; reason: string };

/**
 * One POST of a delivery. Redirects are not followed (a 3xx is a failed attempt: the receiver's URL is
 * wrong), the answer's body is read and dropped, and the whole attempt has a deadline. Never throws.
 */
export async function postWebhook(p: WebhookPost): Promise<WebhookAttemptResult> {
  const signal = AbortSignal.timeout(p.timeoutMs);
  try {
    const url = new URL(p.url);
    const host = normalizeHost(url.hostname);
    let pinned: LookupAddress | undefined;
    if (p.checkAddress && !hostAllowed(p.allowHosts, host, portOf(url))) {
      const addresses = await resolveAll(host);
      for (const a of addresses) {
        const why = refusedBecause(a.address);
        if (why) return { ok: false, reason: `${url.host} resolves to ${a.address}, ${why}; webhooks go only to public addresses unless HIL_WEBHOOK_ALLOW_HOSTS names the host` };
      }
      pinned = addresses[0];
      if (!pinned) return { ok: false, reason: `${host} has no address` };
    }
    const request = url.protocol === "https:" ? httpsRequest : httpRequest;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({
        protocol: url.protocol,
        hostname: host,
        port: portOf(url),
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: { ...p.headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(p.body)), "user-agent": "hil-scheduler-webhook" },
        agent: false,
        ...(pinned ? { lookup: pinnedLookup(pinned) } : {}),
        signal,
      });
      req.once("response", (res) => {
        res.resume();
        res.once("end", () => resolve(res.statusCode ?? 0));
        res.once("error", reject);
      });
      req.once("error", reject);
      req.end(p.body);
    });
    if (status >= 200 && status < 300) return { ok: true, status };
    return { ok: false, reason: `answered HTTP ${status}` };
  } catch (err) {
    if (signal.aborted) return { ok: false, reason: `no answer within ${p.timeoutMs} ms` };
    return { ok: false, reason: (err as Error).message };
  }
}
