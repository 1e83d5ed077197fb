import type { Request, Response } from "express";
import type { Redis } from "ioredis";
import type { LabKeys } from "@hil/contracts";

type Entries = [string, string[]][];

function seqOf(id: string): number {
  return Number(id.split("-")[0]);
}

function send(res: Response, entries: Entries): number | undefined {
  let last: number | undefined;
  for (const [id, fields] of entries) {
    const i = fields.indexOf("json");
    const data = i >= 0 ? fields[i + 1] : undefined;
    last = seqOf(id);
    if (data === undefined) continue;
    res.write(`id: ${last}\ndata: ${data}\n\n`);
  }
  return last;
}

/**
 * Server-Sent Events of a board's log stream. The stream entry id is `<seq>-0`, so "after SEQ" is the
 * exclusive range `(SEQ-0`: a client resuming from the last id it saw gets no gap and no duplicate.
 * With follow, a dedicated connection blocks in XREAD until new lines arrive or the client leaves.
 */
export async function streamBoardLog(
  redis: Redis,
  keys: LabKeys,
  boardId: string,
  since: number | undefined,
  follow: boolean,
  req: Request,
  res: Response,
): Promise<void> {
  const key = keys.boardLog(boardId);
  res.status(200).set({ "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
  res.flushHeaders();
  let cursor = since === undefined ? "-" : `(${since}-0`;
  let lastId = since === undefined ? "0-0" : `${since}-0`;
  for (;;) {
    const batch = await redis.xrange(key, cursor, "+", "COUNT", 1000);
    const last = send(res, batch);
    if (last !== undefined) {
      cursor = `(${last}-0`;
      lastId = `${last}-0`;
    }
    if (batch.length < 1000) break;
  }
  if (!follow) {
    res.end();
    return;
  }
  const conn = redis.duplicate();
  conn.on("error", () => {});
  let closed = false;
  const onClose = () => {
    closed = true;
    conn.disconnect();
  };
  req.on("close", onClose);
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
  try {
    while (!closed) {
      const out = (await conn.xread("COUNT", 500, "BLOCK", 5000, "STREAMS", key, lastId)) as [string, Entries][] | null;
      if (closed) break;
      for (const [, entries] of out ?? []) {
        const last = send(res, entries);
        if (last !== undefined) lastId = `${last}-0`;
      }
    }
  } catch {
    // the client left (connection dropped under XREAD) or Redis went away: either way, end the stream
  } finally {
    clearInterval(keepAlive);
    req.off("close", onClose);
    conn.disconnect();
    res.end();
  }
}
