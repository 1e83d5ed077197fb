import type { Command } from "commander";
import { connect } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";

export function register(program: Command): void {
  program
    .command("reset")
    .description("Reset a booked board (holder or admin); its boot output appears in the board log")
    .argument("<board>", "board id")
    .option("--download", "reset into the ROM's download (flashing) mode instead of running the app")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .addHelpText("after", "\nExit codes: 0 the agent was told to reset the board, 64 refused (403: you do not hold the board; 409: a run has it or it is offline), 2 no answer from the lab.")
    .action(async (board: string, opts: { download?: boolean; url?: string; tokenFile?: string }) => {
      const mode = opts.download ? "download" : "run";
      await connect(opts).request("POST", `/api/v1/boards/${encodeURIComponent(board)}/reset`, `reset of ${board}`, { mode });
      process.stdout.write(`${board}: reset into ${mode} mode; watch it with hil console ${board}\n`);
    });
}
