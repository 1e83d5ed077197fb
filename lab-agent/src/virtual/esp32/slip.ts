/**
 * SLIP framing as the ESP32 ROM loader and every esptool client use it: `C0 <escaped> C0`,
 * C0 → DB DC, DB → DB DD. Frames come back to back (`… C0 C0 …`), so a C0 that arrives with an empty
 * frame open is taken as the opening of the next frame rather than as an empty packet.
 */

export const SLIP_END = 0xc0;
export const SLIP_ESC = 0xdb;
export const SLIP_ESC_END = 0xdc;
export const SLIP_ESC_ESC = 0xdd;

export type SlipEvent =
  | { type: "frame"; data: Uint8Array }
  /** Bytes seen outside any frame (boot text, line noise). */
  | { type: "garbage"; data: Uint8Array }
  /** DB followed by something other than DC/DD: the frame is dropped, as the ROM does. */
  | { type: "bad-escape"; byte: number };

type State = "outside" | "inside" | "escape" | "discard";

/** Streaming decoder: push chunks in any split, get whole frames out. */
export class SlipDecoder {
  private state: State = "outside";
  private frame: number[] = [];
  private garbage: number[] = [];

  push(chunk: Uint8Array): SlipEvent[] {
    const events: SlipEvent[] = [];
    for (const b of chunk) {
      switch (this.state) {
        case "outside":
          if (b === SLIP_END) {
            this.flushGarbage(events);
            this.state = "inside";
            this.frame = [];
          } else {
            this.garbage.push(b);
          }
          break;
        case "inside":
          if (b === SLIP_END) {
            // An empty frame is the opening C0 of the next one (back-to-back C0 C0).
            if (this.frame.length > 0) {
              events.push({ type: "frame", data: Uint8Array.from(this.frame) });
              this.frame = [];
              this.state = "outside";
            }
          } else if (b === SLIP_ESC) {
            this.state = "escape";
          } else {
            this.frame.push(b);
          }
          break;
        case "escape":
          if (b === SLIP_ESC_END) {
            this.frame.push(SLIP_END);
            this.state = "inside";
          } else if (b === SLIP_ESC_ESC) {
            this.frame.push(SLIP_ESC);
            this.state = "inside";
          } else {
            events.push({ type: "bad-escape", byte: b });
            this.frame = [];
            // A C0 right after DB still closes the broken frame; anything else: skip to its end.
            this.state = b === SLIP_END ? "outside" : "discard";
          }
          break;
        case "discard":
          if (b === SLIP_END) this.state = "outside";
          break;
      }
    }
    this.flushGarbage(events);
    return events;
  }

  /** Forget any partial frame (e.g. after a reset or a purge). */
  reset(): void {
    this.state = "outside";
    this.frame = [];
    this.garbage = [];
  }

  private flushGarbage(events: SlipEvent[]): void {
    if (this.garbage.length === 0) return;
    events.push({ type: "garbage", data: Uint8Array.from(this.garbage) });
    this.garbage = [];
  }
}

/** Wraps one packet in C0 … C0 with escapes. */
export function slipEncode(packet: Uint8Array): Uint8Array {
  let extra = 0;
  for (const b of packet) if (b === SLIP_END || b === SLIP_ESC) extra++;
  const out = new Uint8Array(packet.length + extra + 2);
  let i = 0;
  out[i++] = SLIP_END;
  for (const b of packet) {
    if (b === SLIP_END) {
      out[i++] = SLIP_ESC;
      out[i++] = SLIP_ESC_END;
    } else if (b === SLIP_ESC) {
      out[i++] = SLIP_ESC;
      out[i++] = SLIP_ESC_ESC;
    } else {
      out[i++] = b;
    }
  }
  out[i] = SLIP_END;
  return out;
}
