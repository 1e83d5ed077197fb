import { test } from "uvu";
import * as assert from "uvu/assert";
import { SlipDecoder, slipEncode, type SlipEvent } from "./slip.js";

const frames = (events: SlipEvent[]): number[][] => events.flatMap((e) => (e.type === "frame" ? [Array.from(e.data)] : []));

function feedSplit(bytes: number[], cuts: number[]): SlipEvent[] {
  const d = new SlipDecoder();
  const out: SlipEvent[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...d.push(Uint8Array.from(bytes.slice(at, cut))));
    at = cut;
  }
  return out;
}

test("encode escapes C0 and DB and round-trips through the decoder", () => {
  const payload = Uint8Array.of(0x01, 0xc0, 0x02, 0xdb, 0xdc, 0xdd, 0xc0, 0xdb);
  const wire = slipEncode(payload);
  assert.equal(Array.from(wire), [0xc0, 0x01, 0xdb, 0xdc, 0x02, 0xdb, 0xdd, 0xdc, 0xdd, 0xdb, 0xdc, 0xdb, 0xdd, 0xc0]);
  assert.equal(frames(new SlipDecoder().push(wire)), [Array.from(payload)]);
});

test("every possible split point gives the same frames, including an escape cut in half", () => {
  const a = Array.from(slipEncode(Uint8Array.of(0x00, 0x08, 0xc0, 0xdb, 0x55)));
  const b = Array.from(slipEncode(Uint8Array.of(0xdb, 0xdb, 0xc0)));
  const wire = [...a, ...b];
  for (let cut = 0; cut <= wire.length; cut++) {
    for (let cut2 = cut; cut2 <= wire.length; cut2 += 3) {
      assert.equal(frames(feedSplit(wire, [cut, cut2])), [[0x00, 0x08, 0xc0, 0xdb, 0x55], [0xdb, 0xdb, 0xc0]], `cuts ${cut},${cut2}`);
    }
  }
  // One byte at a time.
  assert.equal(frames(feedSplit(wire, wire.map((_, i) => i))), [[0x00, 0x08, 0xc0, 0xdb, 0x55], [0xdb, 0xdb, 0xc0]]);
});

test("leading garbage (boot text) is reported and skipped", () => {
  const text = Array.from(new TextEncoder().encode("ets Jun  8 2016\r\n"));
  const events = new SlipDecoder().push(Uint8Array.from([...text, ...slipEncode(Uint8Array.of(1, 2, 3))]));
  assert.equal(frames(events), [[1, 2, 3]]);
  const garbage = events.find((e) => e.type === "garbage");
  assert.ok(garbage && garbage.type === "garbage" && garbage.data.length === text.length);
});

test("back-to-back C0 C0 and empty frames do not produce empty packets", () => {
  const wire = [0xc0, 0xc0, 0xc0, 1, 0xc0, 0xc0, 2, 0xc0, 0xc0, 0xc0];
  assert.equal(frames(new SlipDecoder().push(Uint8Array.from(wire))), [[1], [2]]);
});

test("a bad escape drops that frame, is reported, and the next frame still decodes", () => {
  const wire = [0xc0, 1, 0xdb, 0x41, 2, 0xc0, ...slipEncode(Uint8Array.of(9, 9))];
  const events = feedSplit(wire, [3]);
  assert.equal(frames(events), [[9, 9]]);
  assert.ok(events.some((e) => e.type === "bad-escape" && e.byte === 0x41));
});

test("a frame that started before the decoder joined (missed opening C0) does not swallow the next one", () => {
  // Tail of an earlier frame, its closing C0, then a whole frame.
  const wire = [0x33, 0x44, 0xc0, ...slipEncode(Uint8Array.of(7, 8))];
  assert.equal(frames(new SlipDecoder().push(Uint8Array.from(wire))), [[7, 8]]);
});

test.run();
