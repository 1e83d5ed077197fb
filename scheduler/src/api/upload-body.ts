import { PassThrough, type Readable } from "node:stream";
import type { Request } from "express";
import { HttpError } from "./http-error.js";

/**
 * After refusing an upload the rest of its body is read and dropped, so the client (still sending)
 * gets the answer instead of a reset connection. Past these bounds the connection is cut instead:
 * nobody may keep the scheduler reading a refused upload for long.
 */
const DISCARD_MAX_BYTES = 16 * 1024 * 1024;
const DISCARD_MAX_MS = 10_000;

export function uploadTooLarge(maxBytes: number): HttpError {
  return new HttpError(413, `upload larger than ${maxBytes} bytes (HIL_UPLOAD_MAX); nothing was stored`);
}

/** Reads and drops what is left of a request body, within bounds (see DISCARD_MAX_*). */
export function discardRest(req: Request): void {
  if (req.complete || req.destroyed) return;
  let dropped = 0;
  const cut = () => {
    clearTimeout(timer);
    req.socket?.destroy();
  };
  const timer = setTimeout(cut, DISCARD_MAX_MS);
  timer.unref();
  req.on("data", (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD_MAX_BYTES) cut();
  });
  req.once("end", () => clearTimeout(timer));
  req.once("close", () => clearTimeout(timer));
  req.resume();
}

/**
 * The request body as a stream that fails with 413 once more than `maxBytes` arrived; a declared
 * Content-Length above the cap is refused before anything is read. Consumers get this stream, never
 * the request itself: a failed pipeline destroys its source, and destroying the request would reset
 * the socket before the 413 is written. When the stream fails or is destroyed by its consumer, the
 * rest of the request is discarded (bounded) so the answer can still be delivered.
 */
export function openUploadBody(req: Request, maxBytes: number): Readable {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    discardRest(req);
    throw uploadTooLarge(maxBytes);
  }
  // a JSON body parser got here first: the bytes are gone, and an empty upload would be stored
  if (req.readableEnded) throw new HttpError(415, "send the upload as application/octet-stream or multipart/form-data, not JSON");
  const out = new PassThrough();
  let seen = 0;
  let ended = false;
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > maxBytes) return void out.destroy(uploadTooLarge(maxBytes));
    if (!out.write(chunk)) req.pause();
  };
  const onEnd = () => {
    ended = true;
    detach();
    out.end();
  };
  const onClose = () => {
    // the client went away mid-body: fail the consumer (its temp file goes) instead of waiting forever
    if (!ended) out.destroy(new HttpError(400, "the upload ended before its body was complete"));
  };
  const onDrain = () => req.resume();
  const detach = () => {
    req.off("data", onData);
    req.off("end", onEnd);
    req.off("close", onClose);
    out.off("drain", onDrain);
  };
  req.on("data", onData);
  req.on("end", onEnd);
  req.on("close", onClose);
  out.on("drain", onDrain);
  out.on("close", () => {
    if (ended) return;
    detach();
    discardRest(req);
  });
  return out;
}
