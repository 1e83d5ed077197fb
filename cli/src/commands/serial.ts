// `hil serial --board B`: the board's serial port on this machine as a local RFC 2217 endpoint, carried
// through the lab (a WebSocket to the scheduler, which relays to the board's agent), so esptool,
// idf.py monitor or miniterm can use a booked board from anywhere that reaches the API.
import { createServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { Command } from "commander";
import { createWebSocketStream, WebSocket } from "ws";
import { connect } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";
import { EXIT } from "../exit-codes.js";
import { untilStopSignal } from "../stop-signal.js";
import { UsageError } from "@hil/contracts";

interface SerialOptions {
  board: string;
  listen: string;
  url?: string;
  tokenFile?: string;
}

/** Opens the lab's end for one local client; rejects with the scheduler's answer when it refuses. */
function openTunnel(url: string, authorization: string, board: string): Promise<WebSocket> {
  const ws = new URL(`/api/v1/boards/${encodeURIComponent(board)}/serial`, url);
  ws.protocol = ws.protocol === "https:" ? "wss:" : "ws:";
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(ws, { headers: { authorization }, handshakeTimeout: 15_000 });
    socket.once("open", () => resolve(socket));
    socket.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => {
        let message = body;
        try {
          message = (JSON.parse(body) as { error?: string }).error ?? body;
        } catch {
          // not JSON: keep the text
        }
        reject(Object.assign(new Error(`${res.statusCode}: ${message}`), { status: res.statusCode }));
      });
    });
    socket.once("error", reject);
  });
}

/**
 * Opens the lab's end, waiting out a 409 for a little while: right after a client leaves, the lab may
 * not yet have freed the board's one-tunnel lock of the tunnel that client used.
 */
async function openTunnelRetrying(url: string, authorization: string, board: string): Promise<WebSocket> {
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      return await openTunnel(url, authorization, board);
    } catch (err) {
      if ((err as { status?: number }).status !== 409 || Date.now() > until) throw err;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

interface OpenTunnel {
  ws: WebSocket;
  /** The tunnel as bytes; what the board's end sends before a client takes it waits here. */
  stream: Duplex;
}

/**
 * Keeps the next client's tunnel open before that client arrives. Opening one is a round trip to the
 * lab and a command to the board's agent, which connects back; pyserial (esptool, idf.py monitor)
 * gives up on the RFC 2217 option negotiation after 3 s, which a loaded lab or a long way to it can
 * spend on the opening alone. While one waits, the board's port stays reserved for this client.
 */
class SpareTunnel {
  private next: { ready: Promise<OpenTunnel> } | undefined;
  private stopped = false;
  /** A waiting tunnel ended and no other could be opened (or the lab ended it for good: status 4000). */
  onEnd: (err: Error) => void = () => undefined;

  constructor(private readonly open: () => Promise<WebSocket>) {}

  /** Starts opening the next tunnel, unless one is open or opening. */
  prepare(): { ready: Promise<OpenTunnel> } {
    if (this.next) return this.next;
    const slot = {
      ready: this.open().then((ws) => {
        const tunnel = { ws, stream: createWebSocketStream(ws) };
        tunnel.stream.on("error", () => undefined);
        ws.once("close", (code, reason) => {
          if (this.next !== slot || this.stopped) return; // taken by a client, which handles the close
          this.next = undefined;
          const why = reason.toString() || `code ${code}`;
          if (code === 4000) return this.onEnd(Object.assign(new Error(why), { status: 4000 }));
          process.stderr.write(`hil serial: the lab closed the waiting tunnel (${why}); opening another\n`);
          setTimeout(() => this.refill(), 1_000);
        });
        if (this.stopped) ws.close(1000);
        return tunnel;
      }),
    };
    slot.ready.catch(() => {
      if (this.next === slot) this.next = undefined;
    });
    this.next = slot;
    return slot;
  }

  /** Opens the next tunnel after one closed; when none can be opened, that is the end. */
  refill(): void {
    if (!this.stopped) this.prepare().ready.catch((err: Error) => this.onEnd(err));
  }

  /** The open (or opening) tunnel for a client that just connected; the next is opened when it closes. */
  take(): Promise<OpenTunnel> {
    const slot = this.prepare();
    this.next = undefined;
    return slot.ready;
  }

  stop(): void {
    this.stopped = true;
    void this.next?.ready.then((t) => t.ws.close(1000), () => undefined);
    this.next = undefined;
  }
}

export function register(program: Command): void {
  program
    .command("serial")
    .description("Open a board you have booked as a local RFC 2217 port (rfc2217://HOST:PORT) for esptool, idf.py monitor or a terminal, tunnelled through the lab; until Ctrl-C")
    .requiredOption("--board <id>", "the board (you must hold its active booking, or be an admin)")
    .option("--listen <host:port>", "where the local port listens (port 0: any free port)", "127.0.0.1:0")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .addHelpText(
      "after",
      "\nOne client at a time. The lab allows one tunnel per board, and this command keeps the next client's tunnel open ahead, so the port is yours while it runs (anyone else is refused with your name) and a client finds it ready at once. The board's output keeps going into its log meanwhile. The tunnel closes, and this command ends, when your booking ends.\nExample: hil serial --board lab-1-vesp32-0 --listen 127.0.0.1:4000 &  esptool --port rfc2217://127.0.0.1:4000 write-flash 0x10000 app.bin\nExit codes: 0 stopped, 64 refused (not your board, port taken, no such board), 2 the lab does not answer.",
    )
    .action(async (opts: SerialOptions) => {
      const m = /^(.*):(\d+)$/.exec(opts.listen);
      if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen ${opts.listen} is not HOST:PORT`);
      const client = connect(opts);
      // check now, so a refusal is an exit code and not a surprise at the first connection: a plain GET
      // answers 426 when a tunnel could be opened, or says why not
      let probe: Response;
      try {
        probe = await fetch(`${client.url}/api/v1/boards/${encodeURIComponent(opts.board)}/serial`, { headers: { authorization: client.authorization } });
      } catch (err) {
        process.stderr.write(`hil serial: cannot reach the lab at ${client.url}: ${(err as Error).message}\n`);
        process.exitCode = EXIT.INFRA;
        return;
      }
      if (probe.status !== 426) {
        const body = (await probe.json().catch(() => ({}))) as { error?: string };
        process.stderr.write(`hil serial: the lab refused (${probe.status}): ${body.error ?? probe.statusText}\n`);
        process.exitCode = probe.status >= 500 ? EXIT.INFRA : EXIT.USAGE;
        return;
      }
      await probe.body?.cancel();
      const tunnels = new SpareTunnel(() => openTunnelRetrying(client.url, client.authorization, opts.board));
      let current: Socket | undefined;
      const server = createServer((local) => {
        if (current && !current.destroyed) {
          local.end();
          return;
        }
        current = local;
        local.pause();
        tunnels.take().then(
          ({ ws, stream }) => {
            local.pipe(stream).pipe(local);
            local.resume();
            const end = () => {
              local.destroy();
              stream.destroy();
            };
            stream.on("error", end);
            stream.on("close", end);
            local.on("error", end);
            local.on("close", end);
            ws.once("close", (code, reason) => {
              if (code !== 1000 && code !== 1005) process.stderr.write(`hil serial: the lab closed the tunnel: ${reason.toString() || code}\n`);
              if (code === 4000) server.close();
              else tunnels.refill();
            });
          },
          (err: Error) => {
            process.stderr.write(`hil serial: ${err.message}\n`);
            local.destroy();
          },
        );
      });
      tunnels.onEnd = (err) => {
        process.stderr.write(`hil serial: ${err.message}\n`);
        const status = (err as { status?: number }).status;
        if (status !== undefined && status !== 4000) process.exitCode = status >= 400 && status < 500 ? EXIT.USAGE : EXIT.INFRA;
        server.close();
      };
      // the first tunnel is open before the port is announced, so the first client finds it ready
      try {
        await tunnels.prepare().ready;
      } catch (err) {
        const status = (err as { status?: number }).status ?? 500;
        process.stderr.write(`hil serial: ${(err as Error).message}\n`);
        process.exitCode = status >= 400 && status < 500 ? EXIT.USAGE : EXIT.INFRA;
        tunnels.stop();
        return;
      }
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(Number(m[2]), m[1], resolve);
      });
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : Number(m[2]);
      process.stdout.write(`${opts.board} on rfc2217://${m[1]}:${port} (through ${client.url}); Ctrl-C stops\n`);
      await Promise.race([untilStopSignal(), new Promise<void>((resolve) => server.once("close", () => resolve()))]);
      tunnels.stop();
      current?.destroy();
      server.close();
    });
}
