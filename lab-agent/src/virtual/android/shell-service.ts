import type { AdbStream } from "./adb-stream.js";
import { ByteQueue } from "./byte-queue.js";
import type { AndroidDeviceState } from "./device-state.js";
import { ANDROID_COMMANDS } from "./shell/command-table.js";
import { ShellSession } from "./shell/shell-session.js";
import type { ShellIo } from "./shell/shell-types.js";

/**
 * Shell protocol packet ids (AOSP `adb/shell_protocol.h`): a packet is id:u8, length:u32 LE, data.
 */
export const SHELL_STDIN = 0;
export const SHELL_STDOUT = 1;
export const SHELL_STDERR = 2;
export const SHELL_EXIT = 3;
export const SHELL_CLOSE_STDIN = 4;
export const SHELL_WINDOW_SIZE = 5;

/** Output packets stay small so any client buffer holds one whole. */
const MAX_PACKET_DATA = 16 * 1024;

export function shellPacket(id: number, data: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = id;
  head.writeUInt32LE(data.length, 1);
  return Buffer.concat([head, data]);
}

export interface ShellRequest {
  /** Shell protocol v2 (exit codes, separate stderr) or raw bytes. */
  protocol: boolean;
  pty: boolean;
  command: string;
}

/**
 * `shell[,arg]*:command`. Args: `v2`, `raw`, `pty`, `TERM=…`; unknown ones are ignored; the type
 * defaults to PTY for an empty command and raw otherwise (AOSP `daemon/services.cpp` ShellService).
 */
export function parseShellDestination(destination: string): ShellRequest | null {
  const m = /^shell(,[^:]*)?:([\s\S]*)$/.exec(destination);
  if (!m) return null;
  const args = (m[1] ?? "").split(",").filter((a) => a.length > 0);
  const command = m[2] ?? "";
  const pty = args.includes("pty") ? true : args.includes("raw") ? false : command.length === 0;
  return { protocol: args.includes("v2"), pty, command };
}

/** Runs a command (or an interactive shell) over one stream; closes the stream when done. */
export function runShellService(stream: AdbStream, device: AndroidDeviceState, request: ShellRequest): void {
  const abort = new AbortController();
  stream.onClose(() => abort.abort());
  const session = new ShellSession(device, ANDROID_COMMANDS);
  const stdin = request.protocol ? new ByteQueue() : stream.input;
  const translate = (d: string | Buffer): Buffer => {
    const b = Buffer.from(d);
    return request.pty ? Buffer.from(b.toString("latin1").replace(/\r?\n/g, "\r\n"), "latin1") : b;
  };
  const emit = async (id: number, d: string | Buffer): Promise<void> => {
    const bytes = translate(d);
    if (!request.protocol) return stream.write(bytes);
    // One write for all packets: the stream cuts it into max-payload WRTEs, one round trip each.
    const packets: Buffer[] = [];
    for (let off = 0; off < bytes.length; off += MAX_PACKET_DATA) packets.push(shellPacket(id, bytes.subarray(off, off + MAX_PACKET_DATA)));
    await stream.write(Buffer.concat(packets));
  };
  const io: ShellIo = {
    stdin,
    stdout: (d) => emit(SHELL_STDOUT, d),
    // A PTY has one output; legacy raw shells hand stderr the same socket as stdout.
    stderr: (d) => emit(request.pty ? SHELL_STDOUT : SHELL_STDERR, d),
    signal: abort.signal,
  };
  if (request.protocol) void pumpShellInput(stream, stdin);
  const body = request.command.length > 0 ? session.run(request.command, io) : interactive(session, io, device);
  void body
    .catch(async (err: unknown) => {
      await io.stderr(`/system/bin/sh: ${(err as Error).message}\n`).catch(() => undefined);
      return 1;
    })
    .then(async (status) => {
      if (request.protocol) await stream.write(shellPacket(SHELL_EXIT, Buffer.from([status & 0xff])));
      stream.close();
    });
}

/** Host → device shell packets: stdin bytes go to the command, close-stdin ends its input. */
async function pumpShellInput(stream: AdbStream, stdin: ByteQueue): Promise<void> {
  try {
    for (;;) {
      const head = await stream.input.read(5);
      const data = await stream.input.read(head.readUInt32LE(1));
      if (head[0] === SHELL_STDIN) stdin.push(data);
      else if (head[0] === SHELL_CLOSE_STDIN) stdin.end();
    }
  } catch {
    // StreamEndedError when the host closes the stream (the normal end); either way input is over.
  } finally {
    stdin.end();
  }
}

/** `adb shell` with no command: a prompt, line editing done by the client's terminal. */
async function interactive(session: ShellSession, io: ShellIo, device: AndroidDeviceState): Promise<number> {
  const prompt = (): string => `${device.identity.device}:${session.cwd} $ `;
  await io.stdout(prompt());
  let line = "";
  let status = 0;
  for (;;) {
    const chunk = await io.stdin.readSome();
    if (chunk === null) return status;
    for (const ch of chunk.toString("utf8")) {
      if (ch === "\r" || ch === "\n") {
        await io.stdout("\n");
        const text = line.trim();
        line = "";
        if (text === "exit" || text.startsWith("exit ")) return Number(text.split(/\s+/)[1] ?? status) & 0xff;
        if (text.length > 0) status = await session.run(text, io);
        await io.stdout(prompt());
      } else if (ch === "\x04" && line.length === 0) return status;
      else if (ch === "\x7f") line = line.slice(0, -1);
      else {
        line += ch;
        await io.stdout(ch);
      }
    }
  }
}

/** `exec:command` and `abb_exec:`: a raw pipe, stdin from the host, no exit code. */
export function runExecService(stream: AdbStream, device: AndroidDeviceState, command: string): void {
  runShellService(stream, device, { protocol: false, pty: false, command });
}

/** Quotes words for the device shell the way adb's `escape_arg` does. */
export function quoteArgs(args: string[]): string {
  return args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
}
