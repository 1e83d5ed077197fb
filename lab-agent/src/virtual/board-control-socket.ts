import { rmSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";

/** What a virtual board offers to links without modem lines. */
export interface BoardControl {
  reset(mode: "run" | "download"): void;
  powerCycle(): void;
  unplug(): void;
  readonly mode: string;
  readonly mac: string;
}

/**
 * A Unix socket that takes one command per line and answers each with one line, in order: the control
 * socket of a virtual board. `execute` turns a line into the answer; a throw answers `error <message>`.
 */
export class LineCommandSocket {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    private readonly execute: (line: string) => Promise<string>,
  ) {}

  async listen(): Promise<void> {
    rmSync(this.path, { force: true });
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let buffered = "";
    let chain = Promise.resolve();
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        chain = chain.then(async () => {
          const answer = await this.execute(line).catch((err: unknown) => `error ${(err as Error).message}`);
          if (!socket.destroyed) socket.write(`${answer}\n`);
        });
      }
    });
  }
}

/**
 * A Unix socket beside a PTY (`<pty>.ctl`) taking one command per line — `reset run`,
 * `reset download`, `power-cycle`, `unplug`, `status` — and answering `ok …` or `error …`.
 * A PTY has no DTR/RTS, so this is how a script resets a virtual board behind one
 * (`printf 'reset download\n' | socat - UNIX-CONNECT:/tmp/x/esp32-0.ctl`).
 */
export class BoardControlSocket {
  private readonly socket: LineCommandSocket;

  constructor(
    private readonly board: BoardControl,
    readonly path: string,
    /** Runs after `unplug` / before a reset brings the board back (the PTY goes away and returns). */
    private readonly hooks: { onUnplug?: () => Promise<void>; onReplug?: () => Promise<void> } = {},
  ) {
    this.socket = new LineCommandSocket(path, (line) => this.execute(line));
  }

  listen(): Promise<void> {
    return this.socket.listen();
  }

  close(): Promise<void> {
    return this.socket.close();
  }

  /** Executes one command line; exported for the CLI and tests. */
  async execute(line: string): Promise<string> {
    const words = line.trim().split(/\s+/).filter((w) => w.length > 0);
    const [cmd, arg] = words;
    switch (cmd) {
      case "reset":
        if (arg !== "run" && arg !== "download") return "error usage: reset run|download";
        await this.hooks.onReplug?.();
        this.board.reset(arg);
        return `ok ${this.board.mode}`;
      case "power-cycle":
        await this.hooks.onReplug?.();
        this.board.powerCycle();
        return `ok ${this.board.mode}`;
      case "unplug":
        this.board.unplug();
        await this.hooks.onUnplug?.();
        return "ok unplugged";
      case "status":
        return `ok ${this.board.mode} ${this.board.mac}`;
      case undefined:
        return "error empty command";
      default:
        return `error unknown command "${cmd}"; use reset run|download, power-cycle, unplug, status`;
    }
  }
}
