import { brotliDecompressSync, brotliCompressSync } from "node:zlib";
import type { AdbStream } from "./adb-stream.js";
import { StreamEndedError } from "./byte-queue.js";
import { ENOENT, FsError, MemoryFs, type FsStat } from "./memory-fs.js";

/**
 * The `sync:` service (AOSP `adb/SYNC.TXT`, `adb/file_sync_protocol.h`,
 * `adb/daemon/file_sync_service.cpp`; PROTOCOLS.md §B.5): requests are id[4] + len:u32 LE + data.
 */
const SYNC_DATA_MAX = 64 * 1024;
const FLAG_BROTLI = 1;
const FLAG_DRY_RUN = 0x80000000;

function id(name: string): Buffer {
  return Buffer.from(name, "latin1");
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** The 68 bytes after the id of a STA2/LST2/DNT2 record (stat_v2). */
function statV2Body(st: FsStat | null, errno: number): Buffer {
  const b = Buffer.alloc(68);
  b.writeUInt32LE(st ? 0 : errno, 0);
  if (st) {
    b.writeBigUInt64LE(0xfd00n, 4); // dev
    b.writeBigUInt64LE(BigInt(st.ino), 12);
    b.writeUInt32LE(st.mode, 20);
    b.writeUInt32LE(st.isDir ? 2 : 1, 24); // nlink
    b.writeUInt32LE(2000, 28); // uid shell
    b.writeUInt32LE(2000, 32); // gid shell
    b.writeBigUInt64LE(BigInt(st.size), 36);
    b.writeBigInt64LE(BigInt(st.mtime), 44); // atime
    b.writeBigInt64LE(BigInt(st.mtime), 52);
    b.writeBigInt64LE(BigInt(st.mtime), 60); // ctime
  }
  return b;
}

function fail(message: string): Buffer {
  const m = Buffer.from(message, "utf8");
  return Buffer.concat([id("FAIL"), u32(m.length), m]);
}

export interface SyncHooks {
  fs: MemoryFs;
  /** Called after a file was written (e.g. for logs). */
  onWritten?(path: string, size: number): void;
}

export function runSyncService(stream: AdbStream, hooks: SyncHooks): void {
  void serve(stream, hooks.fs, hooks).catch((err: unknown) => {
    if (!(err instanceof StreamEndedError)) stream.close();
  });
}

async function serve(stream: AdbStream, fs: MemoryFs, hooks: SyncHooks): Promise<void> {
  const input = stream.input;
  for (;;) {
    const head = await input.read(8);
    const cmd = head.toString("latin1", 0, 4);
    const len = head.readUInt32LE(4);
    if (cmd === "QUIT") {
      stream.close();
      return;
    }
    if (len > 1024 + 64) {
      await stream.write(fail(`path too long: ${len}`));
      stream.close();
      return;
    }
    const path = (await input.read(len)).toString("utf8");
    switch (cmd) {
      case "STAT": {
        const st = fs.stat(path);
        await stream.write(Buffer.concat([id("STAT"), u32(st?.mode ?? 0), u32(st?.size ?? 0), u32(st?.mtime ?? 0)]));
        break;
      }
      case "STA2":
      case "LST2": {
        const st = fs.stat(path);
        await stream.write(Buffer.concat([id(cmd), statV2Body(st, ENOENT)]));
        break;
      }
      case "LIST":
      case "LIS2":
        await stream.write(listing(fs, path, cmd === "LIS2"));
        break;
      case "SEND":
      case "SND2": {
        let spec = path;
        let flags = 0;
        if (cmd === "SND2") {
          const setup = await input.read(12); // "SND2" mode:u32 flags:u32
          spec = `${path},${setup.readUInt32LE(4)}`;
          flags = setup.readUInt32LE(8);
        }
        await stream.write(await receiveFile(stream, fs, spec, flags, hooks));
        break;
      }
      case "RECV":
      case "RCV2": {
        let flags = 0;
        if (cmd === "RCV2") flags = (await input.read(8)).readUInt32LE(4); // "RCV2" flags:u32
        await sendFile(stream, fs, path, flags);
        break;
      }
      default:
        await stream.write(fail(`unknown sync command '${cmd}'`));
        stream.close();
        return;
    }
  }
}

function listing(fs: MemoryFs, path: string, v2: boolean): Buffer {
  const parts: Buffer[] = [];
  let names: string[] = [];
  try {
    names = fs.list(path);
  } catch (err) {
    if (!(err instanceof FsError)) throw err;
  }
  const base = MemoryFs.normalize(path);
  for (const name of ["..", ".", ...names]) {
    const st = fs.stat(name === "." ? base : name === ".." ? MemoryFs.normalize("..", base) : `${base === "/" ? "" : base}/${name}`);
    if (!st) continue;
    const n = Buffer.from(name, "utf8");
    if (v2) parts.push(id("DNT2"), statV2Body(st, 0), u32(n.length), n);
    else parts.push(id("DENT"), u32(st.mode), u32(st.size), u32(st.mtime), u32(n.length), n);
  }
  parts.push(id("DONE"), Buffer.alloc(v2 ? 72 : 16));
  return Buffer.concat(parts);
}

/** SEND: DATA chunks then DONE(mtime); the reply is OKAY or FAIL once the file is complete. */
async function receiveFile(stream: AdbStream, fs: MemoryFs, spec: string, flags: number, hooks: SyncHooks): Promise<Buffer> {
  const comma = spec.lastIndexOf(",");
  const path = comma >= 0 ? spec.slice(0, comma) : spec;
  const mode = comma >= 0 ? Number(spec.slice(comma + 1)) : 0o100644;
  const chunks: Buffer[] = [];
  let mtime = 0;
  for (;;) {
    const head = await stream.input.read(8);
    const what = head.toString("latin1", 0, 4);
    const arg = head.readUInt32LE(4);
    if (what === "DONE") {
      mtime = arg;
      break;
    }
    if (what !== "DATA") return fail(`invalid data message '${what}'`);
    if (arg > SYNC_DATA_MAX) return fail(`data chunk of ${arg} bytes exceeds ${SYNC_DATA_MAX}`);
    chunks.push(await stream.input.read(arg));
  }
  let data = Buffer.concat(chunks);
  if (flags & FLAG_BROTLI) data = brotliDecompressSync(data);
  if (flags & FLAG_DRY_RUN) return Buffer.concat([id("OKAY"), u32(0)]);
  try {
    if (fs.stat(path)?.isDir) return fail(`couldn't create file: Is a directory`);
    fs.writeFile(path, data, mode & 0o777, mtime || undefined);
  } catch (err) {
    if (err instanceof FsError) return fail(`couldn't create file: ${err.message}`);
    throw err;
  }
  hooks.onWritten?.(path, data.length);
  return Buffer.concat([id("OKAY"), u32(0)]);
}

async function sendFile(stream: AdbStream, fs: MemoryFs, path: string, flags: number): Promise<void> {
  let data: Buffer;
  try {
    data = fs.readFile(path);
  } catch (err) {
    if (!(err instanceof FsError)) throw err;
    await stream.write(fail(err.errno === ENOENT ? "No such file or directory" : "Is a directory"));
    return;
  }
  if (flags & FLAG_BROTLI) data = brotliCompressSync(data);
  // Frames go out in batches of about 1 MiB; the stream splits them into WRTEs.
  let batch: Buffer[] = [];
  let batched = 0;
  for (let off = 0; off < data.length; off += SYNC_DATA_MAX) {
    const chunk = data.subarray(off, off + SYNC_DATA_MAX);
    batch.push(id("DATA"), u32(chunk.length), chunk);
    batched += chunk.length;
    if (batched >= 1024 * 1024) {
      await stream.write(Buffer.concat(batch));
      batch = [];
      batched = 0;
    }
  }
  batch.push(id("DONE"), u32(0));
  await stream.write(Buffer.concat(batch));
}
