import { LabError } from "./lab-error.js";

export class ProfileInvalidError extends LabError {
  override name = "ProfileInvalidError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("PROFILE_INVALID", message, options);
  }
}
