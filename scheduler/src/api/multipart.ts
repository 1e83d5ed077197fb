import type { Readable } from "node:stream";
import type { Request } from "express";
import busboy from "busboy";
import { ArtifactTooLargeError } from "../artifacts/artifact-too-large-error.js";
import { HttpError } from "./http-error.js";
import { openUploadBody, uploadTooLarge } from "./upload-body.js";

/** A run request or a note fits easily; a bigger field is a mistake or an attack. */
const FIELD_MAX_BYTES = 1024 * 1024;
const FIELDS_MAX = 20;

export interface MultipartOptions<T> {
  /** Cap on the whole body (HIL_UPLOAD_MAX): past it the answer is 413 and nothing is kept. */
  maxBytes: number;
  maxFiles: number;
  /** Consumes one file part completely (the artifact store); a rejection fails the whole request. */
  storeFile(name: string, stream: Readable): Promise<T>;
}

export interface MultipartBody<T> {
  fields: Map<string, string>;
  files: { name: string; value: T }[];
}

function malformed(message: string, path = ""): HttpError {
  return new HttpError(400, "invalid request", { issues: [{ path, message }] });
}

/** Every failure as the answer it deserves: the client's mistakes are 4xx, only the store's own failures stay 5xx. */
function asHttp(err: unknown, maxBytes: number): unknown {
  if (err instanceof HttpError) return err;
  if (err instanceof ArtifactTooLargeError) return uploadTooLarge(maxBytes);
  return err;
}

/**
 * Reads a multipart/form-data body: fields as strings, every file part handed to `storeFile` while
 * it streams in. A missing boundary, a truncated or garbled body, too many parts: 400. Over the size
 * cap: 413. In every failure the file parts still streaming are destroyed, so the store keeps no
 * partial artifact, and what is left of the request is discarded.
 */
export async function readMultipart<T>(req: Request, opts: MultipartOptions<T>): Promise<MultipartBody<T>> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({
      headers: req.headers,
      limits: { files: opts.maxFiles, fields: FIELDS_MAX, fieldSize: FIELD_MAX_BYTES, parts: opts.maxFiles + FIELDS_MAX },
    });
  } catch (err) {
    // busboy throws synchronously on a Content-Type it cannot use, typically one without boundary=
    throw malformed(`${(err as Error).message}: send Content-Type: multipart/form-data; boundary=… (curl -F and FormData set it)`, "content-type");
  }
  const body = openUploadBody(req, opts.maxBytes);

  return new Promise<MultipartBody<T>>((resolve, reject) => {
    const fields = new Map<string, string>();
    const files: { name: string; value: T }[] = [];
    const stored: Promise<void>[] = [];
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      reject(asHttp(err, opts.maxBytes));
      // stops the parser and destroys the file part in flight (its temp file goes), then drops the rest
      bb.destroy();
      body.destroy();
    };

    body.on("error", fail);
    bb.on("error", (err: Error) => fail(malformed(`the multipart body is malformed: ${err.message}`)));
    bb.on("field", (name, value, info) => {
      if (info.valueTruncated) return fail(malformed(`field ${name} is longer than ${FIELD_MAX_BYTES} bytes`, name));
      fields.set(name, value);
    });
    bb.on("file", (name, stream) => {
      stream.on("error", () => {}); // reported through storeFile's rejection or by the parser
      stored.push(
        opts.storeFile(name, stream).then(
          (value) => void files.push({ name, value }),
          (err: unknown) => fail(err),
        ),
      );
    });
    for (const limit of ["partsLimit", "filesLimit", "fieldsLimit"] as const) {
      bb.on(limit, () => fail(malformed(`too many parts (at most ${opts.maxFiles} files and ${FIELDS_MAX} fields)`)));
    }
    bb.on("close", () => {
      void Promise.all(stored).then(() => {
        if (!failed) resolve({ fields, files });
      });
    });
    body.pipe(bb);
  });
}
