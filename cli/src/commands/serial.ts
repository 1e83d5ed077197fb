// `hil serial --board B`: the board's serial port on this machine as a local RFC 2217 endpoint, carried
// through the lab (a WebSocket to the scheduler, which relays to the board's agent), so esptool,
// idf.py monitor or miniterm can use a booked board from anywhere that reaches the API.
import { createServer, type Socket } from "node:net";
import type { Command } from "commander";
import { createWebSocketStream, WebSocket } from "ws";
import { connect } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";
import { EXIT } from "../exit-codes.js";
import { UsageError } from "../usage-error.js";
import { untilStopSignal } from "../stop-signal.js";

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
      "\nOne client at a time; each connection opens its own tunnel, and the lab allows one tunnel per board (a second is refused with the name of who has it). The board's output keeps going into its log meanwhile. The tunnel closes when your booking ends.\nExample: hil serial --board lab-1-vesp32-0 --listen 127.0.0.1:4000 &  esptool --port rfc2217://127.0.0.1:4000 write-flash 0x10000 app.bin\nExit codes: 0 stopped, 64 refused (not your board, port taken, no such board), 2 the lab does not answer.",
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
      let current: Socket | undefined;
      const server = createServer((local) => {
        if (current && !current.destroyed) {
          local.end();
          return;
        }
        current = local;
        local.pause();
        openTunnel(client.url, client.authorization, opts.board).then(
          (ws) => {
            const remote = createWebSocketStream(ws);
            local.pipe(remote).pipe(local);
            local.resume();
            const end = () => {
              local.destroy();
              remote.destroy();
            };
            remote.on("error", end);
            remote.on("close", end);
            local.on("error", end);
            local.on("close", end);
            ws.once("close", (code, reason) => {
              if (code !== 1000 && code !== 1005) process.stderr.write(`hil serial: the lab closed the tunnel: ${reason.toString() || code}\n`);
              if (code === 4000) server.close();
            });
          },
          (err: Error) => {
            process.stderr.write(`hil serial: ${err.message}\n`);
            local.destroy();
          },
        );
      });
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(Number(m[2]), m[1], resolve);
      });
      const addr = server.address();
      const port = typeof addr === "object" && addr ? addr.port : Number(m[2]);
      process.stdout.write(`${opts.board} on rfc2217://${m[1]}:${port} (through ${client.url}); Ctrl-C stops\n`);
      await Promise.race([untilStopSignal(), new Promise<void>((resolve) => server.once("close", () => resolve()))]);
      current?.destroy();
      server.close();
    });
}
