import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";

/**
 * Every address a host name resolves to, in the resolver's order: the outbound requests the lab makes on a
 * caller's behalf (artifact fetches, webhooks) check each against the address policy before connecting.
 */
export function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
}

/** A `lookup` for http.request that answers with the address already checked: no second resolution to rebind. */
export function pinnedLookup(address: LookupAddress): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [address]);
    else callback(null, address.address, address.family);
  }) as LookupFunction;
}
