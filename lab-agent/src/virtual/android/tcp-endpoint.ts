import { createServer, type Server, type Socket } from "node:net";
import { LabError } from "@hil/contracts";

/**
 * A TCP port that can disappear and come back on the same number, the way adbd's port goes away
 * while a board sits in its bootloader. While closed, connects are refused.
 */
export class TcpEndpoint {
  private server: Server | undefined;
  private boundPort: number;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly host: string,
    port: number,
    private readonly onConnection: (socket: Socket) => void,
  ) {
    this.boundPort = port;
  }

  get port(): number {
    return this.boundPort;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Fixes the port number now, so it stays the same while the endpoint is closed. */
  async reservePort(): Promise<void> {
    if (this.boundPort === 0) this.boundPort = await pickFreePort(this.host);
    else if (!this.server) {
      // A fixed port is bound once now, so a clash shows at start and not at the first reboot.
      await this.open();
      await this.close();
    }
  }

  async open(): Promise<void> {
    if (this.server) return;
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      this.onConnection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err: NodeJS.ErrnoException) => {
        const hint = err.code === "EADDRINUSE" ? "; choose another port or leave it unset for a free one" : "";
        reject(new LabError("USAGE", `cannot listen on ${this.host}:${this.boundPort}: ${err.message}${hint}`, { cause: err }));
      });
      server.listen({ host: this.host, port: this.boundPort, exclusive: true }, () => {
        server.removeAllListeners("error");
        resolve();
      });
    });
    const addr = server.address();
    if (addr && typeof addr === "object") this.boundPort = addr.port;
    this.server = server;
  }

  /** Stops listening and cuts every connection (server.close alone would wait for them). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A free port outside adb's emulator scan range 5555–5585 (PROTOCOLS.md §B.1). */
export async function pickFreePort(host = "127.0.0.1"): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen({ host, port: 0 }, () => {
        const addr = s.address();
        s.close(() => resolve(addr && typeof addr === "object" ? addr.port : 0));
      });
    });
    if (port < 5554 || port > 5586) return port;
  }
}
