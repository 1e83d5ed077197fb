import type { BoardIdentity } from "@hil/contracts";
import type { DeviceProfile } from "@hil/device-profiles";

/** A serial port as the OS describes it (SerialPort.list() fields plus the /dev/serial symlinks). */
export interface SerialPortFacts {
  /** The tty: /dev/ttyUSB0 */
  path: string;
  vendorId?: string;
  productId?: string;
  serialNumber?: string;
  manufacturer?: string;
  /** /dev/serial/by-id/… pointing at this tty (stable across replugs for boards with a serial number). */
  byId?: string;
  /** /dev/serial/by-path/… pointing at this tty (stable per hub port). */
  byPath?: string;
}

export interface DiscoveredBoard {
  /** Stable board id: profile + USB serial number, else profile + hub port path. */
  id: string;
  profile: string;
  /** Where to open the board: the by-id link when there is one (survives replugging), else by-path, else the tty. */
  endpoint: string;
  tty: string;
  identity: BoardIdentity;
  /** Other profiles with the same USB fingerprint (same USB-UART bridge); the first match won. */
  alsoMatches: string[];
}

const norm = (hex: string | undefined): string | undefined => (hex ? hex.toLowerCase().replace(/^0x/, "").padStart(4, "0") : undefined);

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .replace(/-+$/, "");
}

/** Board ids are at most 63 chars of [a-z0-9._-]; keep the tail, where serial numbers and port numbers differ. */
export function boardIdFrom(profileId: string, distinguisher: string): string {
  const tail = slug(distinguisher);
  const id = `${profileId}-${tail}`;
  if (id.length <= 63) return id;
  return `${profileId.slice(0, 20)}-${tail.slice(-(63 - Math.min(profileId.length, 20) - 1))}`.replace(/-+$/, "");
}

/** Profiles whose USB fingerprints fit this port, real boards first. */
export function profilesFor(port: SerialPortFacts, profiles: Iterable<DeviceProfile>): DeviceProfile[] {
  const vid = norm(port.vendorId);
  const pid = norm(port.productId);
  if (!vid || !pid) return [];
  const hits: DeviceProfile[] = [];
  for (const p of profiles) {
    if (p.virtual) continue;
    const fits = p.usb.some((u) => norm(u.vendorId) === vid && norm(u.productId) === pid);
    if (fits) hits.push(p);
  }
  // A profile whose USB description appears in the manufacturer string is the better guess.
  const maker = (port.manufacturer ?? "").toLowerCase();
  return hits.sort((a, b) => score(b, maker) - score(a, maker) || a.id.localeCompare(b.id));
}

function score(p: DeviceProfile, maker: string): number {
  return p.usb.some((u) => u.description !== undefined && maker.length > 0 && maker.includes(u.description.toLowerCase())) ? 1 : 0;
}

/**
 * Matches ports to profiles and names each board. Identical boards (same VID:PID) are told apart by
 * USB serial number; boards without one, or with a serial shared by several (cheap clones), by the
 * hub port path. Ports no profile knows are left out.
 */
export function matchBoards(ports: SerialPortFacts[], profiles: Iterable<DeviceProfile>): DiscoveredBoard[] {
  const list = [...profiles];
  const serialCount = new Map<string, number>();
  for (const p of ports) if (p.serialNumber) serialCount.set(p.serialNumber, (serialCount.get(p.serialNumber) ?? 0) + 1);
  const boards: DiscoveredBoard[] = [];
  for (const port of ports) {
    const [best, ...others] = profilesFor(port, list);
    if (!best) continue;
    const uniqueSerial = port.serialNumber !== undefined && port.serialNumber !== "" && serialCount.get(port.serialNumber) === 1;
    const distinguisher = uniqueSerial ? port.serialNumber! : (port.byPath?.split("/").pop() ?? port.path.split("/").pop() ?? port.path);
    const identity: BoardIdentity = { portPath: port.byPath ?? port.path };
    const vid = norm(port.vendorId);
    const pid = norm(port.productId);
    if (vid) identity.usbVendorId = vid;
    if (pid) identity.usbProductId = pid;
    if (port.serialNumber) identity.serialNumber = port.serialNumber;
    boards.push({
      id: boardIdFrom(best.id, distinguisher),
      profile: best.id,
      endpoint: (uniqueSerial ? port.byId : undefined) ?? port.byPath ?? port.path,
      tty: port.path,
      identity,
      alsoMatches: others.map((o) => o.id),
    });
  }
  return boards;
}
