import { Command } from "commander";
import { registerCommands } from "./commands/index.js";
import { EXIT } from "./exit-codes.js";
import { describeFailure } from "./failure.js";

export function buildProgram(): Command {
  const program = new Command("hil")
    .description("HIL Lab: flash and test ESP32 and Android boards, queue CI runs, book boards, tail serial logs.")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)");
  registerCommands(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code (see exit-codes.ts). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  for (const cmd of allCommands(program)) cmd.exitOverride();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
  } catch (err) {
    const { exit, text } = describeFailure(err);
    if (text) process.stderr.write(text);
    return exit;
  }
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

