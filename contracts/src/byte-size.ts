import { z } from "zod";

const UNIT_BYTES = { "": 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 } as const;
const SIZE_RE = /^(\d{1,15}(?:\.\d{1,9})?)\s*([kmg]i?b|b)?$/i;

/** Parses "512MiB", "64KiB", "10MB", "1000" (bytes) into whole bytes; undefined when it is not a size. */
export function parseByteSize(value: string | number): number | undefined {
  let bytes: number;
  if (typeof value === "number") bytes = value;
  else {
    const m = SIZE_RE.exec(value.trim());
    if (!m) return undefined;
    bytes = Number(m[1]) * UNIT_BYTES[(m[2] ?? "").toLowerCase() as keyof typeof UNIT_BYTES];
  }
  if (!Number.isFinite(bytes) || bytes < 0 || bytes > Number.MAX_SAFE_INTEGER) return undefined;
  return Math.floor(bytes);
}

/** A size written as bytes or with a unit (KiB, MiB, GiB, KB, MB, GB); parsed to bytes. */
export const ByteSizeSchema = z.union([z.number(), z.string().max(40)]).transform((v, ctx) => {
  const bytes = parseByteSize(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: "custom", message: `"${String(v).slice(0, 40)}" is not a size; write e.g. 65536, 64KiB or 512MiB` });
    return z.NEVER;
  }
  return bytes;
});
