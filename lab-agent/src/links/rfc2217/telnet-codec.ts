/**
 * TELNET framing as RFC 2217 uses it (RFC 854/855): data with 0xFF doubled, option negotiation
 * (WILL/WONT/DO/DONT) and subnegotiation (IAC SB … IAC SE). Pure: no sockets, so it can be fed
 * arbitrary splits of a byte stream.
 */
export const IAC = 255;
export const DONT = 254;
export const DO = 253;
export const WONT = 252;
export const WILL = 251;
export const SB = 250;
export const SE = 240;

export const OPT_BINARY = 0;
export const OPT_ECHO = 1;
export const OPT_SGA = 3;
export const OPT_COM_PORT = 44;

/** RFC 2217 client → server command numbers; the server answers with the same number + 100. */
export const CPO = {
  SIGNATURE: 0,
  SET_BAUDRATE: 1,
  SET_DATASIZE: 2,
  SET_PARITY: 3,
  SET_STOPSIZE: 4,
  SET_CONTROL: 5,
  NOTIFY_LINESTATE: 6,
  NOTIFY_MODEMSTATE: 7,
  FLOWCONTROL_SUSPEND: 8,
  FLOWCONTROL_RESUME: 9,
  SET_LINESTATE_MASK: 10,
  SET_MODEMSTATE_MASK: 11,
  PURGE_DATA: 12,
} as const;
export const SERVER_OFFSET = 100;

/** SET-CONTROL values for the lines we drive; "on" = asserted. */
export const CONTROL = {
  ASK_DTR: 7,
  DTR_ON: 8,
  DTR_OFF: 9,
  ASK_RTS: 10,
  RTS_ON: 11,
  RTS_OFF: 12,
} as const;

export type NegotiationVerb = typeof WILL | typeof WONT | typeof DO | typeof DONT;

export type TelnetEvent =
  | { type: "data"; data: Uint8Array }
  | { type: "negotiate"; verb: NegotiationVerb; option: number }
  | { type: "subnegotiation"; option: number; payload: Uint8Array };

/** Doubles every 0xFF so payload bytes cannot be read as commands. */
export function escapeData(data: Uint8Array): Uint8Array {
  let count = 0;
  for (const b of data) if (b === IAC) count++;
  if (count === 0) return data;
  const out = new Uint8Array(data.length + count);
  let j = 0;
  for (const b of data) {
    out[j++] = b;
    if (b === IAC) out[j++] = IAC;
  }
  return out;
}

export function negotiation(verb: NegotiationVerb, option: number): Uint8Array {
  return new Uint8Array([IAC, verb, option]);
}

/** IAC SB option <payload, 0xFF doubled> IAC SE */
export function subnegotiation(option: number, payload: Uint8Array): Uint8Array {
  const body = escapeData(payload);
  const out = new Uint8Array(body.length + 5);
  out.set([IAC, SB, option]);
  out.set(body, 3);
  out.set([IAC, SE], 3 + body.length);
  return out;
}

/** A COM-PORT-OPTION command with a u32 big-endian value (SET-BAUDRATE). */
export function comPortU32(command: number, value: number): Uint8Array {
  const p = new Uint8Array(5);
  p[0] = command;
  new DataView(p.buffer).setUint32(1, value >>> 0, false);
  return subnegotiation(OPT_COM_PORT, p);
}

/** A COM-PORT-OPTION command with a one-byte value (SET-CONTROL, PURGE-DATA, …). */
export function comPortU8(command: number, value: number): Uint8Array {
  return subnegotiation(OPT_COM_PORT, new Uint8Array([command, value & 0xff]));
}

type State = "data" | "iac" | "verb" | "sb-option" | "sb" | "sb-iac";

/** Stream decoder: push chunks in whatever pieces TCP delivers; get whole events out. */
export class TelnetDecoder {
  private state: State = "data";
  private verb: NegotiationVerb = WILL;
  private sbOption = 0;
  private sb: number[] = [];

  push(chunk: Uint8Array): TelnetEvent[] {
    // Fast path for the common case: plain data with no IAC in it.
    if (this.state === "data" && !chunk.includes(IAC)) return chunk.length > 0 ? [{ type: "data", data: chunk }] : [];
    const events: TelnetEvent[] = [];
    let data: number[] = [];
    const flushData = () => {
      if (data.length > 0) {
        events.push({ type: "data", data: Uint8Array.from(data) });
        data = [];
      }
    };
    for (const b of chunk) {
      switch (this.state) {
        case "data":
          if (b === IAC) this.state = "iac";
          else data.push(b);
          break;
        case "iac":
          if (b === IAC) {
            data.push(IAC);
            this.state = "data";
          } else if (b === WILL || b === WONT || b === DO || b === DONT) {
            this.verb = b;
            this.state = "verb";
          } else if (b === SB) {
            this.state = "sb-option";
          } else {
            // NOP, GA, AYT and friends carry nothing we need.
            this.state = "data";
          }
          break;
        case "verb":
          flushData();
          events.push({ type: "negotiate", verb: this.verb, option: b });
          this.state = "data";
          break;
        case "sb-option":
          this.sbOption = b;
          this.sb = [];
          this.state = "sb";
          break;
        case "sb":
          if (b === IAC) this.state = "sb-iac";
          else this.sb.push(b);
          break;
        case "sb-iac":
          if (b === IAC) {
            this.sb.push(IAC);
            this.state = "sb";
          } else if (b === SE) {
            flushData();
            events.push({ type: "subnegotiation", option: this.sbOption, payload: Uint8Array.from(this.sb) });
            this.sb = [];
            this.state = "data";
          } else {
            // Malformed (IAC x inside SB): keep going, as pyserial does.
            this.sb.push(b);
            this.state = "sb";
          }
          break;
      }
    }
    flushData();
    return events;
  }
}
