export { main, buildProgram, UsageError } from "./main.js";
export { EXIT, type ExitCode } from "./exit-codes.js";
