import type { BookingRequestSchema } from "@hil/contracts";
import type { z } from "zod";
import type { Command } from "commander";
import { bookingLine, connect } from "../client/index.js";
import { TOKEN_FILE_FLAG, TOKEN_FILE_HELP } from "../client/connect.js";
import { UsageError } from "@hil/contracts";

export function register(program: Command): void {
  program
    .command("book")
    .description("Book a board for hands-on work; CI runs keep off it for the window")
    .option("--board <id>", "board to book")
    .option("--profile <name>", "any board of this profile")
    .requiredOption("--for <duration>", "how long, e.g. 2h or 30m")
    .option("--start <iso>", "start time (default now)")
    .option("--note <text>", "why")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (opts: { board?: string; profile?: string; for: string; start?: string; note?: string; url?: string; tokenFile?: string }) => {
      if (!opts.board && !opts.profile) throw new UsageError("say what to book: --board ID or --profile P");
      const request: z.input<typeof BookingRequestSchema> = { duration: opts.for };
      if (opts.board) request.board = opts.board;
      if (opts.profile) request.requirements = { profile: opts.profile };
      if (opts.start) {
        if (Number.isNaN(Date.parse(opts.start))) throw new UsageError(`--start takes an ISO time, e.g. 2026-05-01T09:00:00Z (got "${opts.start}")`);
        request.start = new Date(opts.start).toISOString();
      }
      if (opts.note) request.note = opts.note;
      const client = connect(opts);
      const booking = await client.book(request);
      process.stdout.write(`${bookingLine(booking)}\n`);
    });

  program
    .command("release")
    .description("End a booking now")
    .argument("<booking-id>", "booking to release")
    .option("--url <url>", "lab URL (default: $HIL_URL or .hil/lab.env)")
    .option(TOKEN_FILE_FLAG, TOKEN_FILE_HELP)
    .action(async (id: string, opts: { url?: string; tokenFile?: string }) => {
      const client = connect(opts);
      const booking = await client.releaseBooking(id);
      process.stdout.write(`${bookingLine(booking)}\n`);
    });
}
