export { HilClient, RunViewSchema, type RunView, type QueueInfo, type FollowLogOptions } from "./hil-client.js";
export { HilApiError, describeApiError } from "./api-error.js";
export { loadClientConfig, findLabEnv, parseEnvFile, type ClientConfig } from "./client-config.js";
export { readSse, type SseEvent } from "./sse-reader.js";
export { watchRun, type WatchOptions } from "./run-watcher.js";
export { exitCodeForRun, isTerminal } from "./run-outcome.js";
export { table, boardsTable, runsTable, runShowText, bookingLine, logLineText, runStatusLine } from "./format.js";
export { connect } from "./connect.js";
