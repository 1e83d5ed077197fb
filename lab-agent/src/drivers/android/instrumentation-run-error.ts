import { LabError } from "@hil/contracts";

/**
 * The instrumentation could not run at all (the runner is not installed, INSTRUMENTATION_FAILED,
 * the system aborted it). A test outcome, not the lab's fault: the suite names a runner the
 * installed APKs do not provide.
 */
export class InstrumentationRunError extends LabError {
  override name = "InstrumentationRunError";
  readonly runner: string;

  constructor(runner: string, message: string, options?: { cause?: unknown }) {
    super("TEST_FAILED", message, options);
    this.runner = runner;
  }
}
