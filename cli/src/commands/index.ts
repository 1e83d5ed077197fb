import type { Command } from "commander";

/**
 * Each command group lives in its own file and exports `register(program)`. Add one line here per
 * group; the order here is the order in `hil --help`.
 */
export function registerCommands(program: Command): void {
  void program;
}
