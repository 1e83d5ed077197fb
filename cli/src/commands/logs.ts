import type { Command } from "commander";
import { connect, logLineText } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";
import { UsageError } from "@hil/contracts";

export function register(program: Command): void {
  program
    .command("logs")
    .description("Print a board's serial log; --follow keeps tailing and resumes without gaps after a dropped connection")
    .requiredOption("--board <id>", "board to read")
    .option("--follow", "keep streaming new lines until Ctrl-C")
    .option("--since <seq>", "start after this sequence number", "0")
    .option("--json", "one LogLine JSON per line")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (opts: { board: string; follow?: boolean; since: string; json?: boolean; url?: string; tokenFile?: string }) => {
      const since = Number(opts.since);
      if (!Number.isInteger(since) || since < 0) throw new UsageError("--since takes a sequence number (a whole number)");
      const client = connect(opts);
      const stop = new AbortController();
      const onSigint = () => stop.abort();
      process.once("SIGINT", onSigint);
      try {
        await client.followBoardLog(opts.board, {
          since,
          follow: opts.follow ?? false,
          signal: stop.signal,
          onLine: (l) => process.stdout.write(opts.json ? `${JSON.stringify(l)}\n` : `${logLineText(l)}\n`),
          onReconnect: (seq, err) => process.stderr.write(`log stream dropped (${err.message}); resuming after ${seq}\n`),
        });
      } finally {
        process.off("SIGINT", onSigint);
      }
    });
}
