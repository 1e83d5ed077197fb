import { LabError } from "./lab-error.js";

export class BoardBusyError extends LabError {
  override name = "BoardBusyError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("BOARD_BUSY", message, options);
  }
}
