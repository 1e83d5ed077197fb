import { createInterface } from "node:readline";
import { parseDuration, type LogLine, UsageError } from "@hil/contracts";
import type { Command } from "commander";
import { connect, type HilClient } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";
import { ConsoleEscape, KeystrokeBatcher, linePieces } from "../client/console-keys.js";

interface ConsoleOptions {
  send?: string;
  tail: string;
  linger?: string;
  timeout?: string;
  url?: string;
  tokenFile?: string;
}

const HELP = `
You must hold the board's active booking (hil book --board BOARD), or be admin.

Modes:
  --send TEXT      type TEXT and Enter, then exit 0 (prints nothing; the answer is in the board log).
  stdin a terminal the terminal goes raw: every key goes to the board (Ctrl-C too, batched every 20 ms)
                   and the board's output is printed. Ctrl-] then q quits; Ctrl-] twice sends one
                   Ctrl-]; Ctrl-] and any other key sends both.
  stdin a pipe     each input line is typed with Enter, in order; the board's output is printed.
                   When the input ends, output is shown for --linger seconds more (default 2; with
                   --timeout and no --linger, until the timeout), then exit 0.

--timeout ends any session after that long (exit 0). A refused input (403: you do not hold the board;
409: a run has it or it is offline) prints the scheduler's message and exits 64; no answer from the lab: 2.

Examples:
  hil console lab1-esp32-0
  printf 'version\\nfree\\n' | hil console lab1-esp32-0 --linger 5
  hil console lab1-esp32-0 --send reboot`;

export function register(program: Command): void {
  program
    .command("console")
    .description("Type into a booked board's serial console and watch its output (live, over the board log)")
    .argument("<board>", "board id")
    .option("--send <text>", "type one line (with Enter) and exit")
    .option("--tail <n>", "lines of earlier output to show first", "10")
    .option("--linger <seconds>", "piped stdin: keep showing output this long after the input ends")
    .option("--timeout <duration>", "end the session after this long, e.g. 30s or 10m")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .addHelpText("after", HELP)
    .action(async (board: string, opts: ConsoleOptions) => {
      const tail = Number(opts.tail);
      if (!Number.isInteger(tail) || tail < 0) throw new UsageError("--tail takes a number of lines (0 or more)");
      const lingerMs = opts.linger === undefined ? undefined : Number(opts.linger) * 1000;
      if (lingerMs !== undefined && !(Number.isFinite(lingerMs) && lingerMs >= 0)) throw new UsageError("--linger takes a number of seconds, e.g. 5");
      const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
      if (opts.timeout !== undefined && (timeoutMs === undefined || timeoutMs === 0)) throw new UsageError(`--timeout takes a duration like 30s or 10m (got "${opts.timeout}")`);
      const client = connect(opts);
      const target = `console of ${board}`;
      const input = (body: { text: string; newline: boolean } | { bytes: string }) =>
        client.request("POST", `/api/v1/boards/${encodeURIComponent(board)}/console`, target, body).then(() => undefined);

      if (opts.send !== undefined) {
        for (const piece of linePieces(opts.send)) await input(piece);
        return;
      }
      await session(client, board, input, { tail, lingerMs, timeoutMs });
    });
}

type Input = (body: { text: string; newline: boolean } | { bytes: string }) => Promise<void>;

/** Output of the board while input goes in; resolves when the session ends, rejects with what ended it badly. */
async function session(client: HilClient, board: string, input: Input, opts: { tail: number; lingerMs: number | undefined; timeoutMs: number | undefined }): Promise<void> {
  // The stored log first, to start the live tail right after its last line: nothing the board answers is missed.
  const recent: LogLine[] = [];
  const lastSeq = await client.followBoardLog(board, {
    onLine: (l) => {
      recent.push(l);
      if (recent.length > opts.tail) recent.shift();
    },
  });
  for (const l of recent) print(l);

  let over = false;
  let end!: (err?: unknown) => void;
  const ended = new Promise<void>((resolve, reject) => (end = (err) => (err === undefined ? resolve() : reject(err)))).finally(() => (over = true));
  const stop = new AbortController();
  const following = client.followBoardLog(board, {
    since: lastSeq,
    follow: true,
    signal: stop.signal,
    onLine: print,
    onReconnect: (seq, err) => process.stderr.write(`\nlog stream dropped (${err.message}); resuming after ${seq}\n`),
  }).then(() => end(), end);
  const timers: NodeJS.Timeout[] = [];
  if (opts.timeoutMs !== undefined) timers.push(setTimeout(() => end(), opts.timeoutMs));
  const onSignal = () => end();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const stdin = process.stdin;
  let cleanupInput: () => Promise<void>;
  if (stdin.isTTY) {
    const escape = new ConsoleEscape();
    const keys = new KeystrokeBatcher((bytes) => input({ bytes: bytes.toString("base64") }), end);
    const onData = (chunk: Buffer) => {
      const { send, quit } = escape.feed(chunk);
      keys.push(send);
      if (quit) end();
    };
    // the terminal keeps turning "\n" into "\r\n" in raw mode (only input is raw)
    process.stderr.write(`console of ${board}; Ctrl-] q quits\n`);
    stdin.setRawMode(true);
    stdin.on("data", onData);
    stdin.resume();
    cleanupInput = async () => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      await keys.flush();
      process.stderr.write("\n");
    };
  } else {
    const lines = createInterface({ input: stdin, crlfDelay: Infinity });
    const lingerMs = opts.lingerMs ?? (opts.timeoutMs !== undefined ? undefined : 2000);
    void (async () => {
      for await (const line of lines) for (const piece of linePieces(line)) await input(piece);
      if (lingerMs !== undefined && !over) timers.push(setTimeout(() => end(), lingerMs));
    })().catch(end);
    cleanupInput = async () => {
      lines.close();
      stdin.destroy();
    };
  }

  try {
    await ended;
  } finally {
    for (const t of timers) clearTimeout(t);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await cleanupInput();
    stop.abort();
    await following;
  }
}

/** Board output as a terminal shows it: a prompt flushed without newline stays open for what follows. */
function print(l: LogLine): void {
  process.stdout.write(l.partial ? l.text : `${l.text}\n`);
}
