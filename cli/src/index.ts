export { main, buildProgram } from "./main.js";
export { UsageError } from "@hil/contracts";
export { EXIT, type ExitCode } from "./exit-codes.js";
