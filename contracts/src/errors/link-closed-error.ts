import { LabError } from "./lab-error.js";

export class LinkClosedError extends LabError {
  override name = "LinkClosedError";
  constructor(message = "link closed", options?: { cause?: unknown }) {
    super("LINK_CLOSED", message, options);
  }
}
