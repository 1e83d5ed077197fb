import type { RedisClient } from "@hil/lab-protocol/redis";
import type { LabKeys } from "@hil/contracts";
import { decodeEvent } from "./dead-letters.js";

/** How many unapplied entries are looked at; beyond that the answer is "maybe" for every run (see below). */
const LOOK_AT = 1000;

/**
 * The runs named by agent events that are in the stream but not applied yet: delivered to a scheduler that has not
 * acknowledged them (one that died holds them until another claims them, 30 s later) or not delivered at all (a
 * scheduler that just started). The reaper must not declare such a run's agent lost: its job-finished may be among
 * them, and the run would be executed again although it ended. Returns `"all"` when there are more entries than it
 * reads (the reaper then waits a tick for everything), and an empty set when the stream has no group yet.
 */
export async function runsWithUnappliedEvents(redis: RedisClient, keys: LabKeys, group: string): Promise<Set<string> | "all"> {
  const stream = keys.events();
  let lastDelivered: string | undefined;
  try {
    const groups = (await redis.xinfo("GROUPS", stream)) as unknown[][];
    for (const g of groups) {
      const f = fieldsOf(g);
      if (f.get("name") === group) lastDelivered = String(f.get("last-delivered-id"));
    }
  } catch {
    return new Set(); // no stream yet: no events at all
  }
  if (lastDelivered === undefined) return new Set();
  const pending = (await redis.xpending(stream, group, "-", "+", LOOK_AT)) as [string, string, number, number][];
  const undelivered = (await redis.xrange(stream, `(${lastDelivered}`, "+", "COUNT", LOOK_AT)) as [string, string[]][];
  if (pending.length >= LOOK_AT || undelivered.length >= LOOK_AT) return "all";
  const entries = [...undelivered];
  for (const [id] of pending) entries.push(...((await redis.xrange(stream, id, id)) as [string, string[]][]));
  const runs = new Set<string>();
  for (const [, fields] of entries) {
    const d = decodeEvent(fields);
    if (!d.ok) continue;
    const ev = d.ev;
    const run = ev.type === "job-finished" ? ev.result.runId : "runId" in ev ? ev.runId : undefined;
    if (run) runs.add(run);
  }
  return runs;
}

/** XINFO's flat [name, value, name, value, …] reply as a map. */
function fieldsOf(flat: unknown[]): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(String(flat[i]), flat[i + 1]);
  return m;
}
