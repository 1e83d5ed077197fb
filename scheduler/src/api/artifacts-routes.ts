import { Router, type Request } from "express";
import busboy from "busboy";
import type { ArtifactRef } from "@hil/contracts";
import type { SchedulerContext } from "../context.js";
import { HttpError, parseInput } from "./http-error.js";
import { ShaParamSchema } from "./api-schemas.js";

function firstFile(req: Request, ctx: SchedulerContext): Promise<ArtifactRef & { created: boolean }> {
  return new Promise((resolve, reject) => {
    const bb = busboy({ headers: req.headers, limits: { files: 1, fileSize: 512 * 1024 * 1024 } });
    let stored: Promise<ArtifactRef & { created: boolean }> | undefined;
    bb.on("file", (_name, stream) => {
      stored = ctx.artifacts.put(stream);
    });
    bb.on("error", reject);
    bb.on("close", () => {
      if (!stored) return reject(new HttpError(400, "invalid request", { issues: [{ path: "file", message: "the multipart body holds no file" }] }));
      stored.then(resolve, reject);
    });
    req.pipe(bb);
  });
}

export function artifactsRoutes(ctx: SchedulerContext): Router {
  const r = Router();

  r.post("/artifacts", async (req, res) => {
    const out = req.is("multipart/form-data") ? await firstFile(req, ctx) : await ctx.artifacts.put(req);
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
