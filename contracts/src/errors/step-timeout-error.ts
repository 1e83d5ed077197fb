import { LabError } from "./lab-error.js";

export class StepTimeoutError extends LabError {
  override name = "StepTimeoutError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("STEP_TIMEOUT", message, options);
  }
}
