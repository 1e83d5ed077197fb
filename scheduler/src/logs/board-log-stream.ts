import type { Request, Response } from "express";
import type { RedisClient } from "@hil/lab-protocol/redis";
import type { LabKeys } from "@hil/contracts";
import type { BoardLogArchive } from "./board-log-archive.js";
import { readAfter, seqOf, StreamFollower, type StreamEntry } from "./log-stream.js";

function send(res: Response, entries: StreamEntry[]): void {
  for (const e of entries) if (e.json) res.write(`id: ${seqOf(e.id)}\ndata: ${e.json}\n\n`);
}

/**
 * Server-Sent Events of a board's log stream. The stream entry id is `<seq>-0`, so "after SEQ" is the
 * exclusive range `(SEQ-0`: a client resuming from the last id it saw gets no gap and no duplicate, also
 * when the stream's cap trimmed lines after SEQ (they come from the board's log archive; `since=0` reads
 * everything archived). Without `since`, the stream as it is.
 * With follow, the request's own StreamFollower blocks in XREAD until new lines arrive or the client leaves
 * (the dashboard gateway shares one follower among all its clients instead).
 */
export async function streamBoardLog(
  redis: RedisClient,
  keys: LabKeys,
  boardId: string,
  since: number | undefined,
  follow: boolean,
  req: Request,
  res: Response,
  archive?: BoardLogArchive,
): Promise<void> {
  const key = keys.boardLog(boardId);
  res.status(200).set({ "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
  res.flushHeaders();
  const after = since === undefined ? undefined : `${since}-0`;
  if (since !== undefined && archive) {
    // resuming below the stream's first line (its cap trimmed what came after `since`): the archive has those
    const [head] = (await redis.xrange(key, "-", "+", "COUNT", 1)) as [string, string[]][];
    const first = head ? seqOf(head[0]) : Number.POSITIVE_INFINITY;
    if (first > since + 1) send(res, archive.read(boardId, since, first));
  }
  const last = await readAfter(redis, key, after, (entries) => send(res, entries));
  if (!follow) {
    res.end();
    return;
  }
  const follower = new StreamFollower(redis, { blockMs: 5000, onError: () => {} });
  let lastId = last ?? "0-0";
  const done = new Promise<void>((resolve) => {
    req.on("close", resolve);
    follower.watch({
      key,
      get lastId() {
        return lastId;
      },
      deliver(entries) {
        send(res, entries);
        lastId = entries[entries.length - 1]?.id ?? lastId;
      },
    });
  });
  const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
  try {
    await done;
  } finally {
    clearInterval(keepAlive);
    await follower.stop();
    res.end();
  }
}
