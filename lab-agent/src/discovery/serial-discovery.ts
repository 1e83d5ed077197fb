import { readdir, realpath } from "node:fs/promises";
import { join } from "node:path";
import type { DeviceProfile } from "@hil/device-profiles";
import { matchBoards, type DiscoveredBoard, type SerialPortFacts } from "./usb-fingerprint.js";

export interface PortListing {
  path: string;
  manufacturer?: string | undefined;
  serialNumber?: string | undefined;
  vendorId?: string | undefined;
  productId?: string | undefined;
}

export interface DiscoveryOptions {
  /** Default: serialport's SerialPort.list(). Injected in tests. */
  list?: () => Promise<PortListing[]>;
  /** Default /dev/serial (holding by-id/ and by-path/). */
  serialDir?: string;
}

async function defaultList(): Promise<PortListing[]> {
  const { SerialPort } = await import("serialport");
  return SerialPort.list();
}

/** tty → the by-id / by-path symlink naming it. A missing directory (no udev, no USB) is simply empty. */
export async function readSerialLinks(serialDir: string, kind: "by-id" | "by-path"): Promise<Map<string, string>> {
  const dir = join(serialDir, kind);
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const link = join(dir, name);
    try {
      const tty = await realpath(link);
      if (!out.has(tty)) out.set(tty, link);
    } catch {
      // A dangling link: the board went away between readdir and realpath.
    }
  }
  return out;
}

/** Every serial port this machine sees, with its stable symlinks. */
export async function listSerialPorts(opts: DiscoveryOptions = {}): Promise<SerialPortFacts[]> {
  const serialDir = opts.serialDir ?? "/dev/serial";
  const [ports, byId, byPath] = await Promise.all([(opts.list ?? defaultList)(), readSerialLinks(serialDir, "by-id"), readSerialLinks(serialDir, "by-path")]);
  const facts: SerialPortFacts[] = [];
  for (const p of ports) {
    let tty = p.path;
    try {
      tty = await realpath(p.path);
    } catch {
      // keep the listed path
    }
    const f: SerialPortFacts = { path: p.path };
    if (p.vendorId) f.vendorId = p.vendorId;
    if (p.productId) f.productId = p.productId;
    if (p.serialNumber) f.serialNumber = p.serialNumber;
    if (p.manufacturer) f.manufacturer = p.manufacturer;
    const id = byId.get(tty) ?? byId.get(p.path);
    const path = byPath.get(tty) ?? byPath.get(p.path);
    if (id) f.byId = id;
    if (path) f.byPath = path;
    facts.push(f);
  }
  return facts;
}

/** Serial boards plugged into this machine that a device profile recognises by USB fingerprint. */
export async function discoverSerialBoards(profiles: Iterable<DeviceProfile>, opts: DiscoveryOptions = {}): Promise<DiscoveredBoard[]> {
  return matchBoards(await listSerialPorts(opts), profiles);
}
