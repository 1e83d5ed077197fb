import { LabError } from "@hil/contracts";
import { Rfc2217Link } from "./rfc2217/rfc2217-link.js";
import type { SerialLink } from "./serial-link.js";
import { SerialportLink } from "./serialport-link.js";

export interface OpenLinkOptions {
  baudRate?: number;
  /** RFC 2217 only: connect/negotiation/command timeout. */
  timeoutMs?: number;
}

/**
 * Builds the link a port string names, not yet opened: `rfc2217://host:port` → Rfc2217Link,
 * anything else → a local device path for SerialportLink. `memory:` links are built by whoever owns
 * the in-process device.
 */
export function createLink(url: string, opts: OpenLinkOptions = {}): SerialLink {
  if (url.startsWith("memory:")) {
    throw new LabError("USAGE", `"${url}" is an in-process link; build a MemoryLink around the device instead`);
  }
  if (url.startsWith("rfc2217://")) {
    const m = /^rfc2217:\/\/(\[[^\]]+\]|[^:/?]+):(\d+)\/?(?:\?.*)?$/.exec(url);
    if (!m) throw new LabError("USAGE", `"${url}" is not a valid RFC 2217 address; write rfc2217://host:port`);
    const host = m[1]!.replace(/^\[|\]$/g, "");
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw new LabError("USAGE", `port ${port} in "${url}" is out of range`);
    return new Rfc2217Link({ host, port, ...opts });
  }
  return new SerialportLink({ path: url, ...(opts.baudRate === undefined ? {} : { baudRate: opts.baudRate }) });
}

/** createLink() and open() in one step. */
export async function openLink(url: string, opts: OpenLinkOptions = {}): Promise<SerialLink> {
  const link = createLink(url, opts);
  await link.open();
  return link;
}
