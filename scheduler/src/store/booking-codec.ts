import { BookingSchema, decodeJson, type Booking } from "@hil/contracts";

/**
 * A stored booking, or undefined when the record is not one (bad JSON, off-schema). Readers skip such
 * a record instead of failing: one bad record must not break every listing and dispatch pass.
 */
export function decodeBooking(raw: string): Booking | undefined {
  return decodeJson(BookingSchema, raw);
}
