import { posix } from "node:path";

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

export interface FsNode {
  kind: "file" | "dir";
  /** Permission bits only (e.g. 0o644). */
  perm: number;
  /** Seconds since the epoch. */
  mtime: number;
  data: Buffer;
  ino: number;
}

export interface FsStat {
  mode: number;
  size: number;
  mtime: number;
  ino: number;
  isDir: boolean;
}

/** Linux errno values as the sync protocol reports them. */
export const ENOENT = 2;
export const EISDIR = 21;
export const ENOTDIR = 20;

export class FsError extends Error {
  override readonly name = "FsError";
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

const STANDARD_DIRS = ["/data", "/data/local", "/data/local/tmp", "/data/app", "/data/data", "/sdcard", "/sdcard/Download", "/system", "/system/bin", "/vendor", "/proc", "/dev", "/mnt"];

/** The device's files: a flat map from absolute path to node, enough for sync, pm and the shell. */
export class MemoryFs {
  private readonly nodes = new Map<string, FsNode>();
  private nextIno = 2;

  constructor() {
    this.nodes.set("/", this.node("dir", 0o755));
    for (const d of STANDARD_DIRS) this.mkdirp(d);
    this.writeFile("/proc/version", Buffer.from("Linux version 4.19.0-virtual (hil@lab) #1 SMP PREEMPT\n"));
    this.writeFile("/dev/null", Buffer.alloc(0), 0o666);
  }

  static normalize(path: string, cwd = "/"): string {
    const abs = posix.resolve(cwd, path);
    return abs.length > 1 && abs.endsWith("/") ? abs.slice(0, -1) : abs;
  }

  stat(path: string): FsStat | null {
    const n = this.nodes.get(MemoryFs.normalize(path));
    if (!n) return null;
    return { mode: (n.kind === "dir" ? S_IFDIR : S_IFREG) | n.perm, size: n.kind === "dir" ? 4096 : n.data.length, mtime: n.mtime, ino: n.ino, isDir: n.kind === "dir" };
  }

  readFile(path: string): Buffer {
    const p = MemoryFs.normalize(path);
    const n = this.nodes.get(p);
    if (!n) throw new FsError(ENOENT, `${p}: No such file or directory`);
    if (n.kind === "dir") throw new FsError(EISDIR, `${p}: Is a directory`);
    return n.data;
  }

  /** Creates missing parent directories, as adbd does for pushes (`fixed_push_mkdir`). */
  writeFile(path: string, data: Buffer, perm = 0o644, mtime = Math.floor(Date.now() / 1000)): void {
    const p = MemoryFs.normalize(path);
    const existing = this.nodes.get(p);
    if (existing?.kind === "dir") throw new FsError(EISDIR, `${p}: Is a directory`);
    this.mkdirp(posix.dirname(p));
    const n = this.node("file", perm);
    n.data = data;
    n.mtime = mtime;
    if (existing) n.ino = existing.ino;
    this.nodes.set(p, n);
  }

  mkdirp(path: string): void {
    const p = MemoryFs.normalize(path);
    const parts = p.split("/").filter((s) => s.length > 0);
    let cur = "";
    for (const part of parts) {
      cur += `/${part}`;
      const n = this.nodes.get(cur);
      if (!n) this.nodes.set(cur, this.node("dir", 0o771));
      else if (n.kind !== "dir") throw new FsError(ENOTDIR, `${cur}: Not a directory`);
    }
  }

  mkdir(path: string): void {
    const p = MemoryFs.normalize(path);
    if (this.nodes.has(p)) throw new FsError(17, `'${p}': File exists`);
    const parent = this.nodes.get(posix.dirname(p));
    if (!parent) throw new FsError(ENOENT, `'${p}': No such file or directory`);
    this.nodes.set(p, this.node("dir", 0o771));
  }

  /** Names directly inside `path`, sorted. */
  list(path: string): string[] {
    const p = MemoryFs.normalize(path);
    const n = this.nodes.get(p);
    if (!n) throw new FsError(ENOENT, `${p}: No such file or directory`);
    if (n.kind !== "dir") throw new FsError(ENOTDIR, `${p}: Not a directory`);
    const prefix = p === "/" ? "/" : `${p}/`;
    const names: string[] = [];
    for (const key of this.nodes.keys()) {
      if (key !== p && key.startsWith(prefix) && !key.slice(prefix.length).includes("/")) names.push(key.slice(prefix.length));
    }
    return names.sort();
  }

  remove(path: string, recursive: boolean): void {
    const p = MemoryFs.normalize(path);
    const n = this.nodes.get(p);
    if (!n) throw new FsError(ENOENT, `${p}: No such file or directory`);
    if (n.kind === "dir" && !recursive) throw new FsError(EISDIR, `${p}: Is a directory`);
    for (const key of [...this.nodes.keys()]) if (key === p || key.startsWith(`${p}/`)) this.nodes.delete(key);
  }

  private node(kind: "file" | "dir", perm: number): FsNode {
    return { kind, perm, mtime: Math.floor(Date.now() / 1000), data: Buffer.alloc(0), ino: this.nextIno++ };
  }
}
