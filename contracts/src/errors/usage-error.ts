import { LabError } from "./lab-error.js";

/**
 * A request that cannot work as given: a bad flag, a missing setting, a port that is taken. The CLI
 * maps it to exit 64; nothing retries it.
 */
export class UsageError extends LabError {
  override name = "UsageError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("USAGE", message, options);
  }
}
