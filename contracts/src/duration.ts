import { z } from "zod";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_RE = /^(\d{1,15}(?:\.\d{1,9})?)\s*(ms|s|m|h|d)$/;

/**
 * The longest duration anything in the lab accepts (a little over a year). Bounding it here keeps
 * every sum of "now + duration" a safe integer, so a hostile `1e20` or `"9…9h"` is refused at the
 * edge instead of poisoning a stored record that later fails to parse.
 */
export const MAX_DURATION_MS = 366 * 86_400_000;

/**
 * Parses "500ms", "10s", "2m", "1.5h", "7d" into whole milliseconds. A plain number already is
 * milliseconds, so parsing a parsed value again (a Job's suite is validated by the scheduler and
 * again by the agent) changes nothing. Negative, non-finite or longer than MAX_DURATION_MS: undefined.
 */
export function parseDuration(value: string | number): number | undefined {
  let ms: number;
  if (typeof value === "number") ms = value;
  else {
    const m = DURATION_RE.exec(value.trim());
    if (!m) return undefined;
    ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  }
  if (!Number.isFinite(ms) || ms < 0 || ms > MAX_DURATION_MS) return undefined;
  return Math.round(ms);
}

/** A duration written as "10s" / "2m" / "500ms" / "1h" / "7d" (or a number of milliseconds); parsed to milliseconds. */
export const DurationSchema = z
  .union([z.number(), z.string().max(40)])
  .transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === undefined) {
      const shown = String(v).slice(0, 40);
      ctx.addIssue({ code: "custom", message: `"${shown}" is not a duration of at most 366 days; write e.g. 500ms, 10s, 2m, 1h or 7d` });
      return z.NEVER;
    }
    return ms;
  });
