import { brotliCompressSync, brotliDecompressSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { A_CLSE, A_OKAY, A_WRTE, AdbMessageDecoder, AdbProtocolError, encodeMessage, type AdbMessage } from "./adb-message.js";
import { AdbStream, type AdbStreamLink } from "./adb-stream.js";
import { MemoryFs } from "./memory-fs.js";
import { parseShell } from "./shell/shell-parser.js";
import { runSyncService } from "./sync-service.js";

test("decoder: messages split at every byte and glued together come out whole", () => {
  const a = encodeMessage({ command: A_WRTE, arg0: 1, arg1: 2, data: Buffer.from("hello") });
  const b = encodeMessage({ command: A_OKAY, arg0: 3, arg1: 4, data: Buffer.alloc(0) });
  const wire = Buffer.concat([a, b]);
  const d = new AdbMessageDecoder();
  const out: AdbMessage[] = [];
  for (const byte of wire) out.push(...d.push(Buffer.from([byte])));
  assert.equal(
    out.map((m) => [m.command, m.arg0, m.arg1, m.data.toString()]),
    [
      [A_WRTE, 1, 2, "hello"],
      [A_OKAY, 3, 4, ""],
    ],
  );
  assert.is(a.readUInt32LE(16), 0, "no checksum at A_VERSION 0x01000001");
});

test("decoder: a bad magic or an oversized payload is a protocol error", () => {
  const bad = encodeMessage({ command: A_WRTE, arg0: 1, arg1: 2, data: Buffer.from("x") });
  bad.writeUInt32LE(0, 20);
  assert.throws(() => new AdbMessageDecoder().push(bad), (e: Error) => e instanceof AdbProtocolError && /bad magic/.test(e.message));
  const big = encodeMessage({ command: A_WRTE, arg0: 1, arg1: 2, data: Buffer.alloc(100) });
  assert.throws(() => new AdbMessageDecoder(64).push(big), /exceeds 64/);
});

test("shell parser: adb's single quoting, redirections, and-or lists, variables", () => {
  const env = (n: string) => (n === "ANDROID_LOG_TAGS" ? "''" : "");
  const [list] = parseShell(`export ANDROID_LOG_TAGS="''"; exec logcat '-d' '-v' 'threadtime'`, env).slice(1);
  assert.equal(list!.first.commands[0]!.argv, ["exec", "logcat", "-d", "-v", "threadtime"]);
  const [echo] = parseShell("echo && logcat -B *:I 2>/dev/null", env);
  assert.equal(echo!.rest[0]!.pipeline.commands[0]!.argv, ["logcat", "-B", "*:I"]);
  assert.equal(echo!.rest[0]!.pipeline.commands[0]!.redirects, [{ fd: 2, op: ">", target: "/dev/null" }]);
  const [q] = parseShell(`pm 'install' '/data/local/tmp/it'\\''s.apk' </dev/null`, env);
  assert.equal(q!.first.commands[0]!.argv, ["pm", "install", "/data/local/tmp/it's.apk"]);
  assert.equal(parseShell("a | b; c || d", env).length, 2);
  assert.throws(() => parseShell("echo 'unterminated", env), /unterminated/);
});

test("stream flow control: one WRTE in flight until the host's OKAY; CLSE only after the last", async () => {
  const sent: AdbMessage[] = [];
  const link: AdbStreamLink = { maxPayload: 100, send: (m) => void sent.push(m), forget: () => undefined };
  const stream = new AdbStream(link, 5, 7, "shell:x");
  const done = stream.write(Buffer.alloc(250, 1));
  stream.close();
  assert.equal(sent.map((m) => [m.command, m.arg0, m.arg1, m.data.length]), [[A_WRTE, 5, 7, 100]]);
  stream.handleOkay();
  assert.is(sent.length, 2);
  stream.handleOkay();
  assert.equal(sent.map((m) => m.data.length), [100, 100, 50]);
  stream.handleOkay();
  await done;
  assert.is(sent[3]!.command, A_CLSE);
  stream.handleWrite(Buffer.from("late"));
  assert.is(sent.length, 4, "nothing is acknowledged on a closed stream");
});

/** Runs the sync service on an in-memory link and returns everything it wrote. */
async function sync(fs: MemoryFs, request: Buffer): Promise<Buffer> {
  const sent: AdbMessage[] = [];
  const link: AdbStreamLink = {
    maxPayload: 4096,
    send: (m) => {
      sent.push(m);
      // Acknowledge each device WRTE at once, as the host does.
      if (m.command === A_WRTE) queueMicrotask(() => stream.handleOkay());
    },
    forget: () => undefined,
  };
  const stream = new AdbStream(link, 1, 9, "sync:");
  runSyncService(stream, { fs });
  stream.handleWrite(request);
  await new Promise<void>((resolve) => stream.onClose(resolve));
  assert.ok(sent.some((m) => m.command === A_CLSE), "QUIT closes the stream");
  return Buffer.concat(sent.filter((m) => m.command === A_WRTE).map((m) => m.data));
}

function req(id: string, payload: Buffer | string): Buffer {
  const p = Buffer.from(payload);
  const h = Buffer.alloc(8);
  h.write(id, 0, "latin1");
  h.writeUInt32LE(p.length, 4);
  return Buffer.concat([h, p]);
}

test("sync v2: SND2 with brotli, RCV2 with brotli, dry run writes nothing", async () => {
  const fs = new MemoryFs();
  const body = Buffer.from("virtual android ".repeat(5000));
  const packed = brotliCompressSync(body);
  const setup = Buffer.alloc(12);
  setup.write("SND2", 0, "latin1");
  setup.writeUInt32LE(0o100640, 4);
  setup.writeUInt32LE(1, 8); // brotli
  const chunks: Buffer[] = [];
  for (let off = 0; off < packed.length; off += 1000) chunks.push(req("DATA", packed.subarray(off, off + 1000)));
  const done = Buffer.alloc(8);
  done.write("DONE", 0, "latin1");
  done.writeUInt32LE(1_700_000_000, 4);
  const out = await sync(fs, Buffer.concat([req("SND2", "/sdcard/x.txt"), setup, ...chunks, done, req("QUIT", "")]));
  assert.is(out.toString("latin1", 0, 4), "OKAY");
  assert.ok(fs.readFile("/sdcard/x.txt").equals(body));
  assert.is(fs.stat("/sdcard/x.txt")!.mtime, 1_700_000_000);
  assert.is(fs.stat("/sdcard/x.txt")!.mode & 0o777, 0o640);

  const recvSetup = Buffer.alloc(8);
  recvSetup.write("RCV2", 0, "latin1");
  recvSetup.writeUInt32LE(1, 4);
  const got = await sync(fs, Buffer.concat([req("RCV2", "/sdcard/x.txt"), recvSetup, req("QUIT", "")]));
  const parts: Buffer[] = [];
  let off = 0;
  while (got.toString("latin1", off, off + 4) === "DATA") {
    const n = got.readUInt32LE(off + 4);
    parts.push(got.subarray(off + 8, off + 8 + n));
    off += 8 + n;
  }
  assert.is(got.toString("latin1", off, off + 4), "DONE");
  assert.ok(brotliDecompressSync(Buffer.concat(parts)).equals(body));

  setup.writeUInt32LE(0x80000000, 8); // dry run
  const dry = await sync(fs, Buffer.concat([req("SND2", "/sdcard/dry.txt"), setup, req("DATA", "x"), done, req("QUIT", "")]));
  assert.is(dry.toString("latin1", 0, 4), "OKAY");
  assert.is(fs.stat("/sdcard/dry.txt"), null);
});

test("sync v1: STAT of a missing path is all zeros; LIST ends with DONE", async () => {
  const fs = new MemoryFs();
  fs.writeFile("/sdcard/a.bin", Buffer.alloc(10));
  const out = await sync(fs, Buffer.concat([req("STAT", "/nope"), req("LIST", "/sdcard"), req("QUIT", "")]));
  assert.is(out.toString("latin1", 0, 4), "STAT");
  assert.ok(out.subarray(4, 16).equals(Buffer.alloc(12)));
  const names = [...out.toString("latin1").matchAll(/DENT[\s\S]{16}([^\0]*?)(?=DENT|DONE)/g)].map((m) => m[1]);
  assert.ok(names.includes("a.bin"), JSON.stringify(names));
  assert.is(out.toString("latin1", out.length - 20, out.length - 16), "DONE");
});

test.run();
