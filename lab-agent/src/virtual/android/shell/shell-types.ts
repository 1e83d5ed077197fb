import type { ByteQueue } from "../byte-queue.js";
import type { AndroidDeviceState } from "../device-state.js";

export interface ShellIo {
  stdin: ByteQueue;
  stdout(data: string | Buffer): Promise<void>;
  stderr(data: string | Buffer): Promise<void>;
  /** Aborted when the client closes the stream (e.g. Ctrl-C on `adb logcat`). */
  signal: AbortSignal;
}

export interface ShellContext {
  readonly device: AndroidDeviceState;
  readonly env: Map<string, string>;
  cwd: string;
  /** Runs a nested command line (for `sh -c`) in this session. */
  run(line: string, io: ShellIo): Promise<number>;
}

/** A command: gets argv (argv[0] is its name), returns the exit status. */
export type ShellCommand = (argv: string[], io: ShellIo, ctx: ShellContext) => Promise<number>;

/** Thrown by command implementations for a usage error; the shell prints it to stderr. */
export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
