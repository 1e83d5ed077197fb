import { test } from "uvu";
import * as assert from "uvu/assert";
import type { LogLine } from "@hil/contracts";
import { sleep, waitUntil } from "@hil/test-kit";
import { ConsoleCapture } from "../src/console/console-capture.js";
import type { Landmark } from "../src/console/landmark-detector.js";
import { MemoryLink } from "../src/links/memory-link.js";
import type { Disposable, SerialDevice } from "../src/links/serial-link.js";

/** A device that only talks when the test tells it to (one layer under test: the capture). */
class ScriptedDevice implements SerialDevice {
  private listeners = new Set<(d: Uint8Array) => void>();
  received = "";
  receive(data: Uint8Array): void {
    this.received += Buffer.from(data).toString();
  }
  setSignals(): void {}
  setBaudRate(): void {}
  onTransmit(l: (d: Uint8Array) => void): Disposable {
    this.listeners.add(l);
    return { dispose: () => this.listeners.delete(l) };
  }
  say(text: string | Uint8Array): void {
    const bytes = typeof text === "string" ? Buffer.from(text) : text;
    for (const l of this.listeners) l(bytes);
  }
}

const landmarks = {
  bootMarker: "rst:0x[0-9a-f]+ \\(",
  appStartMarker: "main_task: Calling app_main\\(\\)",
  panicPattern: "Guru Meditation Error",
  bootLoopCount: 3,
};

async function setup(startSeq = 0) {
  const dev = new ScriptedDevice();
  const link = new MemoryLink(dev, { path: "memory:t" });
  await link.open();
  const cap = new ConsoleCapture(link, { boardId: "b1", runId: "r1", startSeq, partialFlushMs: 50, landmarks });
  const lines: LogLine[] = [];
  cap.onLine((l) => lines.push(l));
  return { dev, link, cap, lines };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    assert.is((err as { code?: string }).code, code);
    return;
  }
  assert.unreachable(`expected a ${code} rejection`);
}

test("CRLF lines split across chunks become stamped lines with continuing seq; ANSI kept raw", async () => {
  const { dev, cap, lines } = await setup(41);
  dev.say("\x1b[0;32mI (31) boot: ESP-IDF v5.1 2nd st");
  dev.say("age bootloader\x1b[0m\r\nsecond line\r");
  dev.say("\nthird\r\n");
  await waitUntil("lines.length >= 3", () => lines.length >= 3);
  assert.equal(lines.map((l) => l.seq), [41, 42, 43]);
  assert.is(lines[0]!.text, "\x1b[0;32mI (31) boot: ESP-IDF v5.1 2nd stage bootloader\x1b[0m");
  assert.is(lines[1]!.text, "second line");
  assert.ok(lines.every((l) => l.board === "b1" && l.run === "r1" && l.stream === "serial" && l.wall > 1e12 && l.mono > 0));
  const { match } = await cap.expect(/boot: (ESP-IDF v[\d.]+) 2nd stage bootloader$/, { timeoutMs: 1000 });
  assert.is(match[1], "ESP-IDF v5.1");
  assert.is(cap.nextSeq, 44);
  cap.dispose();
});

test("a prompt without newline is flushed as partial; the continuation does not repeat it", async () => {
  const { dev, cap, lines } = await setup();
  dev.say("esp32> ");
  await waitUntil("lines.length === 1", () => lines.length === 1);
  assert.is(lines[0]!.text, "esp32> ");
  assert.is(lines[0]!.partial, true);
  await cap.expect(/^esp32> $/, { timeoutMs: 1000 });
  dev.say("help\r\nnext\r\n");
  await waitUntil("lines.length === 3", () => lines.length === 3);
  assert.is(lines[1]!.text, "help");
  assert.is(lines[1]!.partial, undefined);
  // a pattern spanning the split still matches the logical line
  const { entry } = await cap.expect(/esp32> help/, { timeoutMs: 1000 });
  assert.is(entry.line.text, "help");
  // prompt then a bare newline: no empty duplicate
  dev.say("Enter test for running.");
  await waitUntil("lines.length === 4", () => lines.length === 4);
  dev.say("\r\n");
  dev.say("after\r\n");
  await waitUntil("lines.length === 5", () => lines.length === 5);
  assert.is(lines[4]!.text, "after");
  cap.dispose();
});

test("no line is lost between expects: lines that arrive before the next expect are still seen", async () => {
  const { dev, cap } = await setup();
  dev.say("A ready\r\nB value=1\r\nC value=2\r\n");
  await cap.expect(/ready/, { timeoutMs: 1000 });
  await sleep(100);
  const first = await cap.expect(/value=(\d)/, { timeoutMs: 1000 });
  const second = await cap.expect(/value=(\d)/, { timeoutMs: 1000 });
  assert.is(first.match[1], "1");
  assert.is(second.match[1], "2");
  // expectNot looks without consuming
  dev.say("D oops\r\n");
  await rejectsWith(cap.expectNot(/oops/, 300), "TEST_FAILED");
  await cap.expect(/oops/, { timeoutMs: 1000 });
  await cap.expectNot(/oops/, 150);
  cap.dispose();
});

test("expect times out with a STEP_TIMEOUT naming the pattern; abort cancels; link loss is LINK_CLOSED", async () => {
  const { dev, link, cap } = await setup();
  dev.say("nothing useful\r\n");
  try {
    await cap.expect(/never/, { timeoutMs: 200 });
    assert.unreachable("should time out");
  } catch (err) {
    assert.is((err as { code?: string }).code, "STEP_TIMEOUT");
    assert.match((err as Error).message, /\/never\//);
    assert.match((err as Error).message, /nothing useful/);
  }
  const ac = new AbortController();
  const pending = cap.expect(/never/, { timeoutMs: 60_000, signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await rejectsWith(pending, "CANCELLED");
  const waiting = cap.expect(/never/, { timeoutMs: 60_000 });
  link.sever();
  await rejectsWith(waiting, "LINK_CLOSED");
  cap.dispose();
});

test("pause drops loader bytes; text pending before the pause is kept", async () => {
  const { dev, cap, lines } = await setup();
  dev.say("last words");
  await sleep(5);
  cap.pause();
  dev.say(new Uint8Array([0xc0, 0x01, 0x08, 0x04, 0x00, 0x0a, 0xc0, 0x0d, 0x0a]));
  dev.say("OHAI\r\n");
  await sleep(100);
  cap.resume();
  dev.say("ets Jun  8 2016 00:22:57\r\n");
  await waitUntil(`lines.some((l) => l.text.startsWith("ets"))`, () => lines.some((l) => l.text.startsWith("ets")));
  assert.equal(lines.map((l) => l.text), ["last words", "ets Jun  8 2016 00:22:57"]);
  cap.dispose();
});

test("landmarks: boot, app start, panic with backtrace, boot loop", async () => {
  const { dev, cap } = await setup();
  const seen: Landmark[] = [];
  cap.onLandmark((l) => seen.push(l));
  dev.say("rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\nI (300) main_task: Calling app_main()\r\n");
  dev.say("Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\r\n");
  dev.say("Core  0 register dump:\r\nPC      : 0x400d1234\r\nBacktrace: 0x400d1234:0x3ffb0000 0x400d5678:0x3ffb0020\r\n\r\nELF file SHA256: 0123\r\nRebooting...\r\n");
  for (let i = 0; i < 3; i++) dev.say("ets Jun  8 2016 00:22:57\r\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n");
  await waitUntil(`seen.some((l) => l.type === "boot-loop")`, () => seen.some((l) => l.type === "boot-loop"));
  assert.equal(seen.map((l) => l.type), ["boot", "app-start", "panic", "boot", "boot", "boot", "boot-loop"]);
  const panic = seen.find((l) => l.type === "panic");
  assert.ok(panic && panic.type === "panic");
  assert.match(panic.lines[0]!, /^Guru Meditation Error/);
  assert.ok(panic.lines.some((l) => l.startsWith("Backtrace: 0x400d1234")));
  assert.is(panic.lines.at(-1), "Rebooting...");
  cap.dispose();
});

test("a multi-byte character split across chunks and a partial flush is not garbled", async () => {
  const { dev, lines, cap } = await setup();
  const bytes = Buffer.from("température 25°C\r\n");
  const cut = bytes.indexOf(0xb0) ; // inside "°" (c2 b0)
  dev.say(bytes.subarray(0, cut));
  await sleep(150);
  dev.say(bytes.subarray(cut));
  await waitUntil("lines.length >= 2", () => lines.length >= 2);
  assert.is(lines.map((l) => l.text).join(""), "température 25°C");
  cap.dispose();
});

test.run();
