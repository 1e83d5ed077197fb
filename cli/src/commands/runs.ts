import type { Command } from "commander";
import { connect, runShowText, runsTable } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";

export function register(program: Command): void {
  const runs = program
    .command("runs")
    .description("List runs, newest first")
    .option("--state <states>", "comma list, e.g. queued,running")
    .option("--suite <name>", "only this suite")
    .option("--board <id>", "only runs on this board")
    .option("--limit <n>", "how many (1..500)", "50")
    .option("--json", "print JSON")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (opts: { state?: string; suite?: string; board?: string; limit: string; json?: boolean; url?: string; tokenFile?: string }) => {
      const client = connect(opts);
      const query: { state?: string; suite?: string; board?: string; limit: number } = { limit: Number(opts.limit) };
      if (opts.state) query.state = opts.state;
      if (opts.suite) query.suite = opts.suite;
      if (opts.board) query.board = opts.board;
      const { runs } = await client.listRuns(query);
      process.stdout.write(opts.json ? `${JSON.stringify(runs, null, 2)}\n` : runsTable(runs));
    });

  runs
    .command("show")
    .description("One run: its state, attempts, steps and test cases")
    .argument("<run>", "run id")
    .option("--json", "print the run as JSON")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      // `runs` has --json, --url and --token-file too: commander gives them to whichever command they follow
      const opts = cmd.optsWithGlobals<{ json?: boolean; url?: string; tokenFile?: string }>();
      const run = await connect(opts).getRun(id);
      process.stdout.write(opts.json ? `${JSON.stringify(run, null, 2)}\n` : runShowText(run));
    });
}
