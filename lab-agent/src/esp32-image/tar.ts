// A small POSIX ustar writer and reader, for carrying an ESP-IDF build (a handful of files) as one
// artifact. Regular files only; names are relative, with no "..", at most 255 bytes (prefix + name).

const BLOCK = 512;

function field(buf: Uint8Array, at: number, len: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > len) throw new RangeError(`tar field too long: ${text}`);
  buf.set(bytes, at);
}

function octal(buf: Uint8Array, at: number, len: number, value: number): void {
  field(buf, at, len, `${value.toString(8).padStart(len - 1, "0")}\0`);
}

function safeName(name: string): boolean {
  return name.length > 0 && !name.startsWith("/") && !name.split("/").some((p) => p === ".." || p === "");
}

export interface TarFile {
  name: string;
  data: Uint8Array;
}

export function packTar(files: readonly TarFile[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  for (const f of files) {
    if (!safeName(f.name)) throw new RangeError(`tar: "${f.name}" is not a relative file name`);
    const header = new Uint8Array(BLOCK);
    let name = f.name;
    let prefix = "";
    if (new TextEncoder().encode(name).length > 100) {
      const cut = name.lastIndexOf("/", 155);
      if (cut <= 0 || new TextEncoder().encode(name.slice(cut + 1)).length > 100) throw new RangeError(`tar: "${f.name}" is too long`);
      prefix = name.slice(0, cut);
      name = name.slice(cut + 1);
    }
    field(header, 0, 100, name);
    octal(header, 100, 8, 0o644);
    octal(header, 108, 8, 0);
    octal(header, 116, 8, 0);
    octal(header, 124, 12, f.data.length);
    octal(header, 136, 12, 0);
    header.fill(0x20, 148, 156);
    header[156] = 0x30; // "0": a regular file
    field(header, 257, 6, "ustar\0");
    field(header, 263, 2, "00");
    field(header, 345, 155, prefix);
    let sum = 0;
    for (const b of header) sum += b;
    field(header, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
    blocks.push(header, f.data);
    const pad = (BLOCK - (f.data.length % BLOCK)) % BLOCK;
    if (pad) blocks.push(new Uint8Array(pad));
  }
  blocks.push(new Uint8Array(BLOCK * 2));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** True when the bytes start with a ustar header. */
export function isTar(bytes: Uint8Array): boolean {
  return bytes.length >= BLOCK && new TextDecoder().decode(bytes.subarray(257, 262)) === "ustar";
}

function text(buf: Uint8Array, at: number, len: number): string {
  const raw = buf.subarray(at, at + len);
  const end = raw.indexOf(0);
  return new TextDecoder().decode(end >= 0 ? raw.subarray(0, end) : raw);
}

/** The regular files of a tar archive by name; throws on a damaged archive or an unsafe name. */
export function unpackTar(bytes: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let at = 0;
  while (at + BLOCK <= bytes.length) {
    const header = bytes.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return files;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
    const stored = Number.parseInt(text(header, 148, 8).trim(), 8);
    if (stored !== sum) throw new RangeError(`tar: header checksum wrong at byte ${at}: not a tar archive, or damaged`);
    const size = Number.parseInt(text(header, 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(header[156] ?? 0x30);
    const prefix = text(header, 345, 155);
    const name = (prefix ? `${prefix}/` : "") + text(header, 0, 100);
    const start = at + BLOCK;
    if (!Number.isFinite(size) || size < 0 || start + size > bytes.length) throw new RangeError(`tar: ${name} is cut short`);
    if (type === "0" || type === "\0") {
      const clean = name.replace(/^\.\//, "");
      if (!safeName(clean)) throw new RangeError(`tar: "${name}" is not a relative file name`);
      files.set(clean, bytes.subarray(start, start + size));
    }
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  throw new RangeError("tar: the archive has no end marker: cut short");
}
