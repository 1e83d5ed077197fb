import type { NextFunction, Request, Response } from "express";
import { HttpError } from "./http-error.js";

/** Bearer-token check; the token's name is the caller's identity (submitter, booking holder). */
export function requireToken(tokens: Readonly<Record<string, string>>) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const header = req.get("authorization") ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const name = m?.[1] !== undefined ? tokens[m[1]] : undefined;
    if (name === undefined) {
      res
        .status(401)
        .set("WWW-Authenticate", 'Bearer realm="hil"')
        .json({ error: m ? "unknown token" : "missing bearer token: send Authorization: Bearer <token> (the admin token is in .hil/lab.env)" });
      return;
    }
    res.locals["identity"] = name;
    next();
  };
}

export function identityOf(res: Response): string {
  const id = res.locals["identity"];
  if (typeof id !== "string") throw new HttpError(401, "not authenticated");
  return id;
}

export function requireAdmin(res: Response): void {
  if (identityOf(res) !== "admin") throw new HttpError(403, "this needs the admin token");
}
