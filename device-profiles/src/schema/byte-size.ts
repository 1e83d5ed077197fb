import { z } from "zod";

// esptool writes "4MB" for 4 MiB, so every unit here is a power of two; "MiB" is accepted as well.
const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2 };
const SIZE_RE = /^(\d+)\s*([a-z]*)$/i;
const OFFSET_RE = /^0x[0-9a-f]+$|^\d+$/i;

/** "4MB" / "2MiB" / "512KB" / "4096" / 4096 → bytes; undefined when it is not a size. */
export function parseByteSize(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) && value > 0 ? value : undefined;
  const m = SIZE_RE.exec(value.trim());
  if (!m) return undefined;
  const factor = UNITS[(m[2] ?? "").toLowerCase()];
  if (factor === undefined) return undefined;
  const bytes = Number(m[1]) * factor;
  return bytes > 0 ? bytes : undefined;
}

/** 0x1000 (YAML already turns it into 4096), "0x1000" or "4096" → 4096; undefined otherwise. */
export function parseOffset(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : undefined;
  const s = value.trim();
  return OFFSET_RE.test(s) ? Number(s) : undefined;
}

export const ByteSizeSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const bytes = parseByteSize(v);
  if (bytes === undefined) {
    ctx.addIssue({ code: "custom", message: `"${String(v)}" is not a size; write e.g. 4MB, 2MiB, 512KB or a number of bytes` });
    return z.NEVER;
  }
  return bytes;
});

export const OffsetSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const offset = parseOffset(v);
  if (offset === undefined) {
    ctx.addIssue({ code: "custom", message: `"${String(v)}" is not an offset; write e.g. 0x10000 or 65536` });
    return z.NEVER;
  }
  return offset;
});
