import type { z } from "zod";

/**
 * A stored record as `schema` says, or undefined when the text is not JSON or not of that shape.
 * Readers of Redis records use it to skip one damaged record instead of failing every listing.
 */
export function decodeJson<S extends z.ZodType>(schema: S, raw: string | null | undefined): z.output<S> | undefined {
  if (raw === null || raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
