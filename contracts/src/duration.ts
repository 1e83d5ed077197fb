import { z } from "zod";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const DURATION_RE = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)$/;

/**
 * Parses "500ms", "10s", "2m", "1.5h" into milliseconds. A plain number already is milliseconds, so
 * parsing a parsed value again (a Job's suite is validated by the scheduler and again by the agent)
 * changes nothing.
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = DURATION_RE.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

/** A duration written as "10s" / "2m" / "500ms" / "1h" (or a number of milliseconds); parsed to milliseconds. */
export const DurationSchema = z
  .union([z.number().nonnegative(), z.string()])
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      ctx.addIssue({ code: "custom", message: `"${String(v)}" is not a duration; write e.g. 500ms, 10s, 2m or 1h` });
      return z.NEVER;
    }
    return ms;
  });
