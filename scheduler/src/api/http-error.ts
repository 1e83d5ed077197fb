import type { NextFunction, Request, Response } from "express";
import { LabError } from "@hil/contracts";
import { z } from "zod";

export interface Issue {
  path: string;
  message: string;
}

/** An answer other than 2xx, with the JSON body the client gets. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export function issuesOf(err: z.ZodError, prefix: (string | number)[] = []): Issue[] {
  return err.issues.map((i) => {
    const path = [...prefix, ...i.path.map((p) => (typeof p === "symbol" ? String(p) : p))];
    // strict objects report unknown fields in `keys`, not in the path: name them
    const keys = i.code === "unrecognized_keys" ? i.keys : [];
    const named = keys.length === 1 ? [...path, keys[0] ?? ""] : path;
    return { path: named.join("."), message: i.message };
  });
}

/** zod-parses one part of a request; a failure becomes 400 naming every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where?: string): z.output<S> {
  const res = schema.safeParse(value);
  if (!res.success) throw new HttpError(400, "invalid request", { issues: issuesOf(res.error, where ? [where] : []) });
  return res.data;
}

export function errorHandler(log: { error(obj: object, msg: string): void }) {
  return (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) return next(err);
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message, ...err.extra });
      return;
    }
    if (typeof err === "object" && err !== null && "type" in err && err.type === "entity.parse.failed") {
      res.status(400).json({ error: "invalid request", issues: [{ path: "", message: "the body is not valid JSON" }] });
      return;
    }
    if (typeof err === "object" && err !== null && "type" in err && err.type === "entity.too.large") {
      res.status(413).json({ error: "request body too large; upload artifacts with POST /api/v1/artifacts" });
      return;
    }
    log.error({ err }, "request failed");
    const message = err instanceof LabError ? err.message : "internal error; see the scheduler log";
    res.status(500).json({ error: message, ...(err instanceof LabError ? { code: err.code } : {}) });
  };
}
