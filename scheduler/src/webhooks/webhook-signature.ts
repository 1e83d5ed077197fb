import { createHmac, timingSafeEqual } from "node:crypto";

/** Headers every delivery carries (docs/webhooks.md). */
export const WEBHOOK_HEADERS = {
  /** `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` under the webhook's secret. */
  signature: "x-hil-signature",
  /** Unix seconds when this attempt was signed; part of the signed text, so a replay cannot move it. */
  timestamp: "x-hil-timestamp",
  /** The delivery's id: the same on every retry of one delivery, for the receiver's dedupe. */
  delivery: "x-hil-delivery",
  /** What happened: `run.finished`. */
  event: "x-hil-event",
} as const;

/** The `X-Hil-Signature` value for a body sent at `timestamp` (Unix seconds). */
export function signWebhook(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/**
 * A receiver's check, for receivers written in TypeScript and for tests: the signature matches and the
 * timestamp is within `toleranceSec` of now (a captured delivery cannot be replayed later).
 */
export function verifyWebhook(secret: string, headers: { signature: string; timestamp: string }, body: string, now = Date.now(), toleranceSec = 300): boolean {
  const ts = Number(headers.timestamp);
  if (!Number.isInteger(ts) || Math.abs(now / 1000 - ts) > toleranceSec) return false;
  const want = Buffer.from(signWebhook(secret, ts, body));
  const got = Buffer.from(headers.signature);
  return want.length === got.length && timingSafeEqual(want, got);
}
