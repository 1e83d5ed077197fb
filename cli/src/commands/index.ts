import type { Command } from "commander";
import { register as registerAgent } from "./agent.js";
import { register as registerRun } from "./run.js";
import { register as registerBoards } from "./boards.js";
import { register as registerRuns } from "./runs.js";
import { register as registerLogs } from "./logs.js";
import { register as registerBook } from "./book.js";
import { register as registerProfiles } from "./profiles.js";
import { register as registerSuites } from "./suites.js";
import { register as registerScheduler } from "./scheduler.js";
import { register as registerVirtual } from "./virtual.js";
import { register as registerImage } from "./image.js";
import { register as registerExamples } from "./examples.js";
import { register as registerTest } from "./test.js";
import { register as registerFlash } from "./flash.js";
import { register as registerAccess } from "./access.js";
import { register as registerDashboard } from "./dashboard.js";
import { register as registerConsole } from "./console.js";
import { register as registerReset } from "./reset.js";
import { register as registerSerial } from "./serial.js";
import { register as registerCompletion } from "./completion.js";

/**
 * Each command group lives in its own file and exports `register(program)`. Add one line here per
 * group; the order here is the order in `hil --help`.
 */
export function registerCommands(program: Command): void {
  registerAgent(program);
  registerRun(program);
  registerBoards(program);
  registerRuns(program);
  registerLogs(program);
  registerBook(program);
  registerConsole(program);
  registerReset(program);
  registerSerial(program);
  registerAccess(program);
  registerProfiles(program);
  registerSuites(program);
  registerScheduler(program);
  registerDashboard(program);
  registerVirtual(program);
  registerImage(program);
  registerExamples(program);
  registerFlash(program);
  registerTest(program);
  registerCompletion(program);
}
