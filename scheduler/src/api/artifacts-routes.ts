import { Router, type Request } from "express";
import type { SchedulerContext } from "../context.js";
import { HttpError, parseInput } from "./http-error.js";
import { ShaParamSchema } from "./api-schemas.js";
import { readMultipart } from "./multipart.js";
import { openUploadBody } from "./upload-body.js";

export function artifactsRoutes(ctx: SchedulerContext): Router {
  const r = Router();
  const maxBytes = ctx.config.uploadMaxBytes;

  // A raw body (octet-stream) or a multipart form with one file part; either way streamed to disk,
  // hashed on the way, and capped at HIL_UPLOAD_MAX (413, nothing kept).
  r.post("/artifacts", async (req, res) => {
    let out: { sha256: string; size: number; created: boolean };
    if (req.is("multipart/form-data")) {
      const { files } = await readMultipart(req, { maxBytes, maxFiles: 1, storeFile: (_name, stream) => ctx.artifacts.put(stream) });
      const first = files[0];
      if (!first) throw new HttpError(400, "invalid request", { issues: [{ path: "file", message: "the multipart body holds no file" }] });
      out = first.value;
    } else {
      out = await ctx.artifacts.put(openUploadBody(req, maxBytes));
    }
    res.status(out.created ? 201 : 200).json({ sha256: out.sha256, size: out.size });
  });

  const fetchOne = async (req: Request, head: boolean, res: import("express").Response) => {
    const { sha256 } = parseInput(ShaParamSchema, req.params, "params");
    const size = await ctx.artifacts.size(sha256);
    if (size === undefined) throw new HttpError(404, `no artifact ${sha256}; upload it with POST /api/v1/artifacts`);
    res.set({ "Content-Type": "application/octet-stream", "Content-Length": String(size), ETag: `"${sha256}"`, "Cache-Control": "public, max-age=31536000, immutable" });
    if (head) return void res.end();
    const stream = ctx.artifacts.open(sha256);
    stream.on("error", (err) => res.destroy(err));
    stream.pipe(res);
  };
  r.head("/artifacts/:sha256", (req, res) => fetchOne(req, true, res));
  r.get("/artifacts/:sha256", (req, res) => fetchOne(req, false, res));

  return r;
}
