import type { Command } from "commander";
import { register as registerAgent } from "./agent.js";
import { register as registerProfiles } from "./profiles.js";
import { register as registerSuites } from "./suites.js";

/**
 * Each command group lives in its own file and exports `register(program)`. Add one line here per
 * group; the order here is the order in `hil --help`.
 */
export function registerCommands(program: Command): void {
  void program;
  registerAgent(program);
  registerProfiles(program);
  registerSuites(program);
}
