import { z } from "zod";

/** One step of a reset sequence: drive DTR or RTS (true = asserted), or pause. */
export type ResetOp = { op: "dtr" | "rts"; value: boolean } | { op: "wait"; ms: number };

const TOKEN_RE = /^(?:([DR])([01])|W(\d+(?:\.\d+)?))$/;

/**
 * Parses an esptool-js style custom reset string such as "D0|R1|W100|D1|R0|W50|D0".
 * Unlike esptool.py, W is in milliseconds (esptool-js convention). Throws with the bad token named.
 */
export function parseResetSequence(sequence: string): ResetOp[] {
  const tokens = sequence.split("|").map((t) => t.trim());
  if (tokens.length === 0 || (tokens.length === 1 && tokens[0] === "")) {
    throw new Error("empty reset sequence; write tokens such as D0|R1|W100|R0");
  }
  return tokens.map((token, i) => {
    const m = TOKEN_RE.exec(token);
    if (!m) {
      throw new Error(`token ${i + 1} "${token}" is not D0, D1, R0, R1 or W<ms> (e.g. D0|R1|W100|D1|R0|W50|D0)`);
    }
    if (m[3] !== undefined) return { op: "wait", ms: Number(m[3]) };
    return { op: m[1] === "D" ? "dtr" : "rts", value: m[2] === "1" };
  });
}

/** A reset sequence kept as its string, checked to parse. */
export const ResetSequenceSchema = z.string().superRefine((s, ctx) => {
  try {
    parseResetSequence(s);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});
