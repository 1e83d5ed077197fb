import { LabError } from "./lab-error.js";

export class ImageInvalidError extends LabError {
  override name = "ImageInvalidError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("IMAGE_INVALID", message, options);
  }
}
