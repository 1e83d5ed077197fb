import type { Command } from "commander";
import { boardsTable, connect } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";
import { api } from "./run.js";

export function register(program: Command): void {
  program
    .command("boards")
    .description("List the lab's boards: state, agent, health, current run, holder")
    .option("--profile <name>", "only this profile")
    .option("--state <state>", "only this state")
    .option("--agent <name>", "only this agent's boards")
    .option("--json", "print JSON")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (opts: { profile?: string; state?: string; agent?: string; json?: boolean; url?: string; tokenFile?: string }) => {
      const client = connect(opts);
      const query: { profile?: string; state?: string; agent?: string } = {};
      if (opts.profile) query.profile = opts.profile;
      if (opts.state) query.state = opts.state;
      if (opts.agent) query.agent = opts.agent;
      const boards = await api(() => client.boards(query));
      process.stdout.write(opts.json ? `${JSON.stringify(boards, null, 2)}\n` : boardsTable(boards));
    });

  program
    .command("quarantine")
    .description("Take a board out of service (admin): no runs, no bookings until released")
    .argument("<board>", "board id")
    .option("--reason <text>", "why, shown with the board")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (board: string, opts: { reason?: string; url?: string; tokenFile?: string }) => {
      await api(() => connect(opts).request("POST", `/api/v1/boards/${encodeURIComponent(board)}/quarantine`, `quarantining ${board}`, opts.reason ? { reason: opts.reason } : {}));
      process.stdout.write(`${board} quarantined\n`);
    });

  program
    .command("unquarantine")
    .description("Return a quarantined board to service (admin)")
    .argument("<board>", "board id")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (board: string, opts: { url?: string; tokenFile?: string }) => {
      await api(() => connect(opts).request("POST", `/api/v1/boards/${encodeURIComponent(board)}/release-quarantine`, `returning ${board}`));
      process.stdout.write(`${board} back in service\n`);
    });

  program
    .command("release-owner")
    .description("Forget which agent owns a board (admin), e.g. after moving it to another bench: the next agent to announce it takes it")
    .argument("<board>", "board id")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (board: string, opts: { url?: string; tokenFile?: string }) => {
      await api(() => connect(opts).request("POST", `/api/v1/boards/${encodeURIComponent(board)}/release-owner`, `releasing the owner of ${board}`));
      process.stdout.write(`${board} has no owner now; the next agent to announce it takes it\n`);
    });
}
