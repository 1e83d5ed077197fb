import type { Command } from "commander";
import { boardsTable, connect } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";
import { BoardHistoryEntrySchema, BoardSchema, type BoardHistoryEntry, UsageError } from "@hil/contracts";
import { z } from "zod";

const BoardShownSchema = BoardSchema.extend({ quarantineReason: z.string().optional() });
const BoardHistoryPageSchema = z.object({ board: z.string(), entries: z.array(BoardHistoryEntrySchema) });

/** The board's facts, then one history line per entry: time, what, outcome, detail, run. */
export function formatBoardShow(board: z.infer<typeof BoardShownSchema>, history: BoardHistoryEntry[]): string {
  const lines = [
    `board    ${board.id}`,
    `profile  ${board.profile}${board.virtual ? " (virtual)" : ""}`,
    `agent    ${board.agent}`,
    `state    ${board.state}${board.quarantineReason ? ` (${board.quarantineReason})` : ""}`,
    `health   ${board.health}`,
    "",
    history.length === 0 ? "no history yet" : "history (newest first):",
  ];
  for (const e of history) {
    const what = e.outcome ? `${e.kind} ${e.outcome}` : e.kind;
    lines.push(`  ${new Date(e.at).toISOString()}  ${what.padEnd(22)} ${e.detail}${e.run ? `  [run ${e.run}]` : ""}`);
  }
  return `${lines.join("\n")}\n`;
}

export function register(program: Command): void {
  const boards = program
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
      const boards = await client.boards(query);
      process.stdout.write(opts.json ? `${JSON.stringify(boards, null, 2)}\n` : boardsTable(boards));
    });

  boards
    .command("show")
    .description("One board: its state and health, then its health history, newest first (failures, recovery steps, health checks)")
    .argument("<board>", "board id")
    .option("--limit <n>", "history entries (1-200)", "50")
    .option("--json", "print JSON: { board, history }")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (board: string, _opts: unknown, cmd: Command) => {
      // `boards` has --json, --url and --token-file too: commander gives them to whichever command they follow
      const opts = cmd.optsWithGlobals<{ limit: string; json?: boolean; url?: string; tokenFile?: string }>();
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new UsageError(`--limit takes a whole number from 1 to 200 (got "${opts.limit}")`);
      const client = connect(opts);
      const path = `/api/v1/boards/${encodeURIComponent(board)}`;
      const shown = BoardShownSchema.parse(await client.request("GET", path, `reading board ${board}`));
      const history = BoardHistoryPageSchema.parse(await client.request("GET", `${path}/history?limit=${limit}`, `reading the history of ${board}`)).entries;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ board: shown, history }, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatBoardShow(shown, history));
    });

  program
    .command("quarantine")
    .description("Take a board out of service (admin): no runs, no bookings until released")
    .argument("<board>", "board id")
    .option("--reason <text>", "why, shown with the board")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (board: string, opts: { reason?: string; url?: string; tokenFile?: string }) => {
      await connect(opts).request("POST", `/api/v1/boards/${encodeURIComponent(board)}/quarantine`, `quarantining ${board}`, opts.reason ? { reason: opts.reason } : {});
      process.stdout.write(`${board} quarantined\n`);
    });

  program
    .command("unquarantine")
    .description("Return a quarantined board to service (admin)")
    .argument("<board>", "board id")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (board: string, opts: { url?: string; tokenFile?: string }) => {
      await connect(opts).request("POST", `/api/v1/boards/${encodeURIComponent(board)}/release-quarantine`, `returning ${board}`);
      process.stdout.write(`${board} back in service\n`);
    });

  program
    .command("release-owner")
    .description("Forget which agent owns a board (admin), e.g. after moving it to another bench: the next agent to announce it takes it")
    .argument("<board>", "board id")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (board: string, opts: { url?: string; tokenFile?: string }) => {
      await connect(opts).request("POST", `/api/v1/boards/${encodeURIComponent(board)}/release-owner`, `releasing the owner of ${board}`);
      process.stdout.write(`${board} has no owner now; the next agent to announce it takes it\n`);
    });
}
