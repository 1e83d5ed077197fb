import { test } from "uvu";
import * as assert from "uvu/assert";
import { ConsoleEscape, KeystrokeBatcher, linePieces } from "./console-keys.js";

const bytes = (s: string) => Buffer.from(s, "latin1");

test("Ctrl-] q quits; what was typed before it still goes to the board", () => {
  const e = new ConsoleEscape();
  assert.equal(e.feed(bytes("ls\r\x1dq")), { send: bytes("ls\r"), quit: true });
  assert.equal(new ConsoleEscape().feed(bytes("\x1dQ")), { send: bytes(""), quit: true });
});

test("Ctrl-] twice sends one Ctrl-]; Ctrl-] and another key sends both; the escape may span reads", () => {
  const e = new ConsoleEscape();
  assert.equal(e.feed(bytes("a\x1d\x1db")), { send: bytes("a\x1db"), quit: false });
  assert.equal(e.feed(bytes("\x1dx")), { send: bytes("\x1dx"), quit: false });
  assert.equal(e.feed(bytes("\x03\x1d")), { send: bytes("\x03"), quit: false });
  assert.equal(e.feed(bytes("q")), { send: bytes(""), quit: true });
  const again = new ConsoleEscape();
  assert.equal(again.feed(bytes("\x1d")), { send: bytes(""), quit: false });
  assert.equal(again.feed(bytes("\x1d")), { send: bytes("\x1d"), quit: false });
  assert.equal(again.feed(bytes("q")), { send: bytes("q"), quit: false }, "a plain q after a sent Ctrl-] is just a q");
});

test("keystrokes typed together go in one request, in order, none over 4 KiB", async () => {
  const sent: string[] = [];
  const b = new KeystrokeBatcher(async (part) => {
    await new Promise((r) => setTimeout(r, 5));
    sent.push(part.toString("latin1"));
  }, (err) => assert.unreachable(String(err)));
  for (const k of "hello") b.push(bytes(k));
  await new Promise((r) => setTimeout(r, 60));
  b.push(bytes("\r"));
  await b.flush();
  assert.equal(sent, ["hello", "\r"]);
  sent.length = 0;
  b.push(Buffer.alloc(9000, 0x61));
  await b.flush();
  assert.equal(sent.map((s) => s.length), [4096, 4096, 808]);
});

test("a refused request is reported once and what follows is dropped", async () => {
  const errors: unknown[] = [];
  let calls = 0;
  const b = new KeystrokeBatcher(async () => {
    calls++;
    throw new Error("HTTP 403");
  }, (err) => errors.push(err));
  b.push(bytes("a"));
  await b.flush();
  b.push(bytes("b"));
  await b.flush();
  assert.is(calls, 1);
  assert.is(errors.length, 1);
});

test("a long line is split on character boundaries with Enter only after the last piece", () => {
  assert.equal(linePieces("version"), [{ text: "version", newline: true }]);
  assert.equal(linePieces(""), [{ text: "", newline: true }]);
  const pieces = linePieces("é".repeat(5), 4);
  assert.equal(pieces, [
    { text: "éé", newline: false },
    { text: "éé", newline: false },
    { text: "é", newline: true },
  ]);
});

test.run();
