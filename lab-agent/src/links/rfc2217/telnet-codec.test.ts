import { test } from "uvu";
import * as assert from "uvu/assert";
import { comPortU32, CPO, DO, escapeData, IAC, OPT_COM_PORT, SB, SE, TelnetDecoder, WILL, type TelnetEvent } from "./telnet-codec.js";
import { TelnetOptions } from "./telnet-options.js";

function feedBytewise(bytes: number[]): TelnetEvent[] {
  const d = new TelnetDecoder();
  return bytes.flatMap((b) => d.push(new Uint8Array([b])));
}

function dataOf(events: TelnetEvent[]): number[] {
  return events.flatMap((e) => (e.type === "data" ? [...e.data] : []));
}

test("0xFF in data is doubled on the way out and un-doubled on the way in", () => {
  const raw = new Uint8Array([1, 0xff, 2, 0xff, 0xff]);
  const wire = escapeData(raw);
  assert.equal([...wire], [1, 0xff, 0xff, 2, 0xff, 0xff, 0xff, 0xff]);
  assert.equal(dataOf(new TelnetDecoder().push(wire)), [...raw]);
  assert.equal(dataOf(feedBytewise([...wire])), [...raw], "split between the two 0xFF of a pair");
});

test("negotiation and subnegotiation survive being split at every byte", () => {
  const stream = [0x41, IAC, WILL, OPT_COM_PORT, 0x42, ...comPortU32(CPO.SET_BAUDRATE + 100, 0x0000ff00), 0x43];
  const events = feedBytewise(stream);
  const kinds = events.map((e) => e.type);
  assert.equal(kinds, ["data", "negotiate", "data", "subnegotiation", "data"]);
  const sub = events[3];
  assert.ok(sub?.type === "subnegotiation");
  // The 0xFF inside the baud value was doubled on the wire and comes back single.
  assert.equal([...sub.payload], [101, 0, 0, 0xff, 0]);
  assert.equal(dataOf(events), [0x41, 0x42, 0x43]);
});

test("a whole stream in one chunk gives the same events as byte-by-byte", () => {
  const stream = [IAC, DO, 0, 7, IAC, SB, OPT_COM_PORT, 5, 8, IAC, SE, IAC, IAC];
  const whole = new TelnetDecoder().push(Uint8Array.from(stream));
  assert.equal(JSON.stringify(whole), JSON.stringify(feedBytewise(stream)));
  assert.equal(dataOf(whole), [7, 0xff]);
});

test("option state answers a request once and never loops", () => {
  const a = new TelnetOptions(new Set([0, 3]), new Set([0]));
  assert.equal([...a.offer(0)], [IAC, WILL, 0]);
  assert.is(a.handle(DO, 0), undefined, "DO answering our WILL needs no reply");
  assert.ok(a.isLocalOn(0));
  assert.is(a.handle(DO, 0), undefined, "a repeated DO is not answered again");
  assert.equal([...a.handle(DO, 3)!], [IAC, WILL, 3], "an unasked DO for a supported option is accepted");
  assert.equal([...a.handle(DO, 1)!], [IAC, 252, 1], "unsupported → WONT");
  assert.equal([...a.handle(WILL, 44)!], [IAC, 254, 44], "unsupported remote option → DONT");
});

test.run();
