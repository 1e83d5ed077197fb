// The archive files (a board's day files, a long run's log) read back in stream order whatever order their rows
// were appended in, and the mark of how far they reach never moves back. Two sweeps that overlap (two replicas,
// or one stalled behind a Redis freeze while the next began) append in either order: the 20-minute soak lost 21
// lines of a board that way, read as "copied twice" behind a later row.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { labKeys } from "@hil/contracts";
import { Redis } from "ioredis";
import { makeTempDir, startPrivateRedis, type PrivateRedis } from "@hil/test-kit";
import { archivedInOrder, archiveRows, raiseArchiveMark } from "../src/logs/archive-rows.js";
import { BoardLogArchive } from "../src/logs/board-log-archive.js";

let server: PrivateRedis;
let redis: Redis;
let tmp: { dir: string; remove(): Promise<void> };

test.before(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url);
  tmp = await makeTempDir("hil-archive-rows-");
});
test.after(async () => {
  redis?.disconnect();
  await server?.stop();
  await tmp?.remove();
});

const rows = (from: number, to: number) => archiveRows(Array.from({ length: to - from + 1 }, (_, i) => [`${from + i}-0`, ["json", `{"seq":${from + i}}`]] as [string, string[]]));

test("rows appended out of order (a slow sweep finishing after a later one) read back in stream order, each once", () => {
  const file = rows(1, 5) + rows(10, 12) + rows(6, 9) + rows(3, 7) + "{not json\n";
  const { entries, bad } = archivedInOrder([file]);
  assert.equal(entries.map((e) => e.id), Array.from({ length: 12 }, (_, i) => `${i + 1}-0`));
  assert.is(bad, 1);
  // Redis-made ids of a run stream compare as numbers, not strings
  assert.equal(archivedInOrder([archiveRows([["1700000000010-1", []], ["1700000000009-12", []]])]).entries.map((e) => e.id), ["1700000000009-12", "1700000000010-1"]);
});

test("a board's archive serves the lines between a cursor and the stream, also when its day file is out of order", () => {
  const keys = labKeys("archive-rows");
  const archive = new BoardLogArchive(redis, keys, (b) => join(tmp.dir, "boards", b), { retentionMs: 86_400_000 });
  mkdirSync(join(tmp.dir, "boards", "b1"), { recursive: true });
  writeFileSync(join(tmp.dir, "boards", "b1", "log-2026-12-01.jsonl"), rows(1, 50) + rows(72, 90) + rows(51, 71));
  const got = archive.read("b1", 40, 80).map((e) => Number(e.id.split("-")[0]));
  assert.equal(got, Array.from({ length: 39 }, (_, i) => 41 + i), "41–79 (before: 51–71 were skipped as copied twice)");
});

test("the archive mark only moves forward", async () => {
  const hash = "archive-rows:marks";
  await raiseArchiveMark(redis, hash, "b1", "300-0");
  await raiseArchiveMark(redis, hash, "b1", "271-0"); // the slow sweep's last id, written after the fast one's
  assert.is(await redis.hget(hash, "b1"), "300-0");
  await raiseArchiveMark(redis, hash, "b1", "1700000000000-2");
  assert.is(await redis.hget(hash, "b1"), "1700000000000-2");
});

test.run();
