/** A stream given to the artifact store went past the size cap; nothing was stored. */
export class ArtifactTooLargeError extends Error {
  override name = "ArtifactTooLargeError";
  constructor(readonly maxBytes: number) {
    super(`the artifact is larger than ${maxBytes} bytes (HIL_UPLOAD_MAX); nothing was stored`);
  }
}
