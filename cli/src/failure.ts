// What `hil` prints and exits with when a command fails: one table for every LabError code, and the
// scheduler's HTTP answers, each with the exit code CI branches on and a hint that says what to do.
import { CommanderError } from "commander";
import { LabError, type LabErrorCode } from "@hil/contracts";
import { HilApiError } from "./client/api-error.js";
import { EXIT, type ExitCode } from "./exit-codes.js";

interface Entry {
  exit: ExitCode;
  /** What to do about it; empty when the message says it all. */
  hint: string;
}

const infra = (hint: string): Entry => ({ exit: EXIT.INFRA, hint });
const usage = (hint: string): Entry => ({ exit: EXIT.USAGE, hint });

/** Every LabError code, the exit code it means and what to do. */
export const FAILURES: Record<LabErrorCode, Entry> = {
  LINK_CLOSED: infra("the board's serial link closed: check the cable and the hub port; the lab retries runs on another board"),
  LINK_OPEN_FAILED: infra("the serial port could not be opened: is another program using it, and is your user in the dialout group?"),
  SYNC_FAILED: infra("the ROM loader did not answer: check the board's reset wiring (DTR/RTS) and its profile's reset sequence, or lower --baud"),
  FLASH_FAILED: infra("writing flash failed: retry; a board that keeps failing is quarantined (hil boards show B)"),
  IDENTITY_MISMATCH: infra("the board on that port is not the one the lab expected (another board plugged in its place): check /dev/serial/by-id"),
  BOARD_BUSY: infra("the board is busy with another run, a flash or a serial session: wait, or see hil boards"),
  BOARD_VANISHED: infra("the board disappeared (unplugged, hub reset): the run is retried on another board"),
  AGENT_LOST: infra("the agent hosting the board stopped answering: see hil boards for its state; the run is retried"),
  LEASE_LOST: infra("the run's hold on its board lapsed (a Redis outage or a stalled agent): the run is retried"),
  JOB_UNREADABLE: infra("the agent could not read the job the scheduler sent (their versions differ): upgrade the agent to the scheduler's version; the run is retried on another agent"),
  IMAGE_INVALID: usage("the firmware image is not valid for this board: check it with `hil image info FILE`"),
  PROFILE_INVALID: usage("the device profile is invalid: check it with `hil profiles check FILE`"),
  SUITE_INVALID: usage("the suite is invalid: check it with `hil suites check FILE`"),
  ARTIFACT_MISSING: usage("give every artifact the suite names as --artifact NAME=FILE (see `hil suites list`)"),
  STEP_TIMEOUT: { exit: EXIT.TEST_FAILED, hint: "a step waited longer than its timeout for what it expected: see the run's log" },
  RUN_TIMEOUT: { exit: EXIT.TIMED_OUT_OR_CANCELLED, hint: "the run outlived its timeout: raise the suite's timeout or --timeout" },
  QUEUE_TIMEOUT: { exit: EXIT.TIMED_OUT_OR_CANCELLED, hint: "no matching board became free in time: see hil boards (offline agents, quarantined boards), or raise --queue-timeout" },
  TEST_FAILED: { exit: EXIT.TEST_FAILED, hint: "" },
  CANCELLED: { exit: EXIT.TIMED_OUT_OR_CANCELLED, hint: "" },
  USAGE: usage(""),
  STEP_UNSUPPORTED: usage("the suite asks the board for a step its kind cannot do: pick a profile of the right kind (hil profiles list)"),
  PROTOCOL: infra("a device answered outside its protocol: retry; if it persists, report the board's log"),
  INTERNAL: infra("an internal error: the message says where; please report it with the command you ran"),
};

/** The scheduler's HTTP answers: exit code and hint by status (0: no answer at all). */
function apiFailure(err: HilApiError): Entry {
  if (err.status === 0) return infra("cannot reach the scheduler: is `npm run lab` running, or is HIL_URL (or .hil/lab.env) wrong?");
  if (err.status === 401) return usage("the token was rejected: check HIL_TOKEN (or --token-file); `hil whoami` shows who a working token is");
  if (err.status === 403) return usage("your token's role may not do this: `hil whoami` shows your role; ask an admin");
  if (err.status === 404) return usage("");
  if (err.status === 409) return usage("");
  if (err.status === 413) return usage("the upload is larger than the lab takes (HIL_UPLOAD_MAX on the scheduler)");
  if (err.status === 429) return usage("too many requests: wait a minute and try again");
  if (err.status >= 400 && err.status < 500) return usage("");
  return infra("the scheduler failed: see its log");
}

/** The line to print and the exit code for anything a command threw. */
export function describeFailure(err: unknown): { exit: ExitCode; text: string } {
  if (err instanceof CommanderError) {
    const ok = err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help";
    // commander printed its own message already
    return { exit: ok ? EXIT.OK : EXIT.USAGE, text: "" };
  }
  let entry: Entry;
  let message: string;
  if (err instanceof HilApiError) {
    entry = apiFailure(err);
    message = err.message;
  } else if (err instanceof LabError) {
    entry = FAILURES[err.code];
    message = err.message;
  } else {
    entry = FAILURES.INTERNAL;
    message = err instanceof Error ? err.message : String(err);
  }
  // a message that already says what to do gets no second hint
  const hint = entry.hint && !message.includes(entry.hint) ? `\n  → ${entry.hint}` : "";
  return { exit: entry.exit, text: `hil: ${message}${hint}\n` };
}
