import { BlockList, isIP } from "node:net";

/**
 * Address ranges an artifact URL may not reach unless its host is allowed (HIL_FETCH_ALLOW_HOSTS):
 * the scheduler sits inside the lab network, so a URL pointing at it would let any submitter read
 * internal services (Redis, cloud metadata, admin pages) through the artifact store.
 * The first matching range names the reason. IPv4-mapped IPv6 addresses match the IPv4 ranges.
 */
const RANGES: readonly [reason: string, cidrs: readonly string[]][] = [
  ["an unspecified address", ["0.0.0.0/8", "::/128"]],
  ["a loopback address", ["127.0.0.0/8", "::1/128"]],
  ["a private address", ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]],
  ["a shared (carrier-grade NAT) address", ["100.64.0.0/10"]],
  ["a link-local address", ["169.254.0.0/16", "fe80::/10"]],
  ["a multicast or broadcast address", ["224.0.0.0/4", "255.255.255.255/32", "ff00::/8"]],
  [
    "a reserved address",
    ["192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "::/96", "100::/64", "2001:db8::/32", "fec0::/10", "64:ff9b:1::/48"],
  ],
];

const LISTS = RANGES.map(([reason, cidrs]) => {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net = "", bits = ""] = cidr.split("/");
    list.addSubnet(net, Number(bits), isIP(net) === 6 ? "ipv6" : "ipv4");
  }
  return [reason, list] as const;
});

/** Why a resolved address may not be fetched from, or undefined for a public unicast address. */
export function refusedBecause(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return "not an IP address";
  for (const [reason, list] of LISTS) if (list.check(address, family === 6 ? "ipv6" : "ipv4")) return reason;
  return undefined;
}
