/**
 * ADB transport messages: a 24-byte header of six little-endian u32 (command, arg0, arg1,
 * data length, data checksum, magic = command ^ 0xFFFFFFFF) and the payload.
 * Sources: AOSP system/core@platform-tools-29.0.6 `adb/protocol.txt`, `adb/adb.h`,
 * `adb/transport.cpp` (`check_header`); see shared/PROTOCOLS.md §B.2.
 */

export const A_SYNC = 0x434e5953;
export const A_CNXN = 0x4e584e43;
export const A_AUTH = 0x48545541;
export const A_OPEN = 0x4e45504f;
export const A_OKAY = 0x59414b4f;
export const A_CLSE = 0x45534c43;
export const A_WRTE = 0x45545257;

/** Protocol version from which the payload checksum is neither sent nor checked. */
export const A_VERSION = 0x01000001;
/** What this device offers; the host takes min(ours, its own 1 MiB). */
export const DEVICE_MAX_PAYLOAD = 256 * 1024;
/** CNXN and AUTH payloads stay within the v1 limit because old peers assume it. */
export const MAX_PAYLOAD_V1 = 4096;

export const AUTH_TOKEN = 1;
export const AUTH_SIGNATURE = 2;
export const AUTH_RSAPUBLICKEY = 3;

export interface AdbMessage {
  command: number;
  arg0: number;
  arg1: number;
  data: Buffer;
}

const HEADER_SIZE = 24;

export function commandName(command: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(command >>> 0);
  return b.toString("latin1");
}

export function encodeMessage(msg: AdbMessage): Buffer {
  const header = Buffer.alloc(HEADER_SIZE);
  header.writeUInt32LE(msg.command >>> 0, 0);
  header.writeUInt32LE(msg.arg0 >>> 0, 4);
  header.writeUInt32LE(msg.arg1 >>> 0, 8);
  header.writeUInt32LE(msg.data.length, 12);
  // A_VERSION ≥ 0x01000001 on both sides: the checksum field is sent as 0 (PROTOCOLS.md §B.2).
  header.writeUInt32LE(0, 16);
  header.writeUInt32LE((msg.command ^ 0xffffffff) >>> 0, 20);
  return msg.data.length > 0 ? Buffer.concat([header, msg.data]) : header;
}

export class AdbProtocolError extends Error {
  override readonly name = "AdbProtocolError";
}

/**
 * Splits a TCP byte stream into messages. Like the 29 host, it checks only the magic and the
 * length bound, never the checksum.
 */
export class AdbMessageDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private maxPayload: number = 1024 * 1024) {}

  setMaxPayload(n: number): void {
    this.maxPayload = n;
  }

  push(chunk: Buffer): AdbMessage[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: AdbMessage[] = [];
    for (;;) {
      if (this.buffered < HEADER_SIZE) break;
      const head = this.peek(HEADER_SIZE);
      const command = head.readUInt32LE(0);
      const length = head.readUInt32LE(12);
      if (head.readUInt32LE(20) !== (command ^ 0xffffffff) >>> 0) {
        throw new AdbProtocolError(`bad magic for command 0x${command.toString(16)}`);
      }
      if (length > this.maxPayload) throw new AdbProtocolError(`payload of ${length} bytes exceeds ${this.maxPayload}`);
      if (this.buffered < HEADER_SIZE + length) break;
      const whole = this.take(HEADER_SIZE + length);
      out.push({ command, arg0: whole.readUInt32LE(4), arg1: whole.readUInt32LE(8), data: whole.subarray(HEADER_SIZE) });
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}
