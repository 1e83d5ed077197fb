import type { RunState } from "@hil/contracts";
import { EXIT, type ExitCode } from "../exit-codes.js";

/** The exit code a CI job gets for a finished run: test failures and lab failures stay apart. */
export function exitCodeForRun(state: RunState): ExitCode {
  switch (state) {
    case "passed":
      return EXIT.OK;
    case "failed":
      return EXIT.TEST_FAILED;
    case "error":
      return EXIT.INFRA;
    case "cancelled":
    case "timed-out":
      return EXIT.TIMED_OUT_OR_CANCELLED;
    default:
      return EXIT.INFRA;
  }
}

export function isTerminal(state: RunState): boolean {
  return state === "passed" || state === "failed" || state === "error" || state === "cancelled" || state === "timed-out";
}
