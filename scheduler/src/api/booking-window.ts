import type { Booking } from "@hil/contracts";
import { HttpError } from "./http-error.js";

/**
 * How far ahead a booking may start. With the longest booking (HIL_BOOKING_MAX, itself at most a
 * year) every stored start and end stays a safe integer, so no stored booking can fail to parse.
 */
export const BOOKING_HORIZON_MS = 366 * 86_400_000;

type Time = number | string;

function invalid(path: string, message: string): HttpError {
  return new HttpError(400, "invalid request", { issues: [{ path, message }] });
}

/** "7d", "36h", "90m", "45s": how the configured maximum is shown in messages. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

function timeOf(v: Time, path: string, now: number): number {
  const ms = typeof v === "number" ? v : Date.parse(v);
  if (!Number.isSafeInteger(ms) || ms < 0) throw invalid(path, "not a valid time (epoch milliseconds or an ISO 8601 time)");
  if (ms > now + BOOKING_HORIZON_MS) throw invalid(path, "must be within 366 days from now");
  return ms;
}

/** The window of a new booking, or 400 naming the field that is out of bounds. */
export function bookingWindow(body: { start?: Time; end?: Time; duration?: number }, now: number, maxMs: number): { start: number; end: number } {
  const start = Math.max(body.start !== undefined ? timeOf(body.start, "start", now) : now, now);
  const field = body.end !== undefined ? "end" : "duration";
  const end = body.end !== undefined ? timeOf(body.end, "end", now + maxMs) : start + (body.duration ?? 0);
  if (!(end > start)) throw invalid(field, "must be after the start (and in the future)");
  if (end - start > maxMs) throw invalid(field, `a booking lasts at most ${formatDuration(maxMs)} (HIL_BOOKING_MAX); book again later for more`);
  return { start, end };
}

/** The new end of an extended booking, or 400 naming the field: it may not outgrow HIL_BOOKING_MAX. */
export function extendedEnd(b: Booking, body: { end?: Time; duration?: number }, now: number, maxMs: number): number {
  const field = body.end !== undefined ? "end" : "duration";
  const end = body.end !== undefined ? timeOf(body.end, "end", now + maxMs) : b.end + (body.duration ?? 0);
  if (!(end > b.start)) throw invalid(field, "must be after the booking's start");
  if (end - b.start > maxMs) {
    throw invalid(field, `a booking lasts at most ${formatDuration(maxMs)} (HIL_BOOKING_MAX); it could end at ${new Date(b.start + maxMs).toISOString()} at the latest`);
  }
  return end;
}
