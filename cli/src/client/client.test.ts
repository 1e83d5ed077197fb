import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { withTempDir } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadClientConfig, parseEnvFile } from "./client-config.js";
import { exitCodeForRun } from "./run-outcome.js";
import { estimateEta } from "./run-watcher.js";
import { readSse } from "./sse-reader.js";

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

test("SSE events split across chunks, CRLF, comments and multi-line data", async () => {
  const body = streamOf([": hello\r\n\r\nid: 7\r\nda", "ta: {\"a\":1}\r\n\r\nid: 8\nevent: line\ndata: x\ndata: y\n\n", "data: tail-without-blank-line"]);
  const events = [];
  for await (const ev of readSse(body)) events.push(ev);
  assert.equal(events, [
    { id: "7", data: '{"a":1}' },
    { id: "8", event: "line", data: "x\ny" },
  ]);
});

test("config: environment first, then the nearest .hil/lab.env upwards; a missing value is named", async () => {
  await withTempDir(async (dir) => {
    const nested = join(dir, "a", "b");
    await mkdir(join(dir, ".hil"), { recursive: true });
    await mkdir(nested, { recursive: true });
    await writeFile(join(dir, ".hil", "lab.env"), "# lab\nHIL_URL=http://127.0.0.1:9\nHIL_TOKEN='tok-file'\n");
    const fromFile = loadClientConfig({}, nested);
    assert.ok(!("missing" in fromFile));
    assert.is("url" in fromFile && fromFile.url, "http://127.0.0.1:9");
    assert.is("token" in fromFile && fromFile.token, "tok-file");
    const envWins = loadClientConfig({ HIL_TOKEN: "tok-env" }, nested);
    assert.is("token" in envWins && envWins.token, "tok-env");
    assert.is("url" in envWins && envWins.url, "http://127.0.0.1:9");
  });
  await withTempDir(async (dir) => {
    const none = loadClientConfig({}, dir);
    assert.ok("missing" in none && /HIL_URL/.test(none.missing));
  });
  assert.equal(parseEnvFile("A=1\n bad line\nB = two \n"), { A: "1", B: "two" });
});

test("exit codes keep test failures, lab failures and cancels apart", () => {
  assert.equal(
    (["passed", "failed", "error", "cancelled", "timed-out"] as const).map(exitCodeForRun),
    [0, 1, 2, 3, 3],
  );
});

test("ETA extrapolates the queue's progress and says nothing before the run has moved", () => {
  assert.is(estimateEta({ at: 0, position: 10 }, 10, 5000), undefined);
  assert.is(estimateEta({ at: 0, position: 10 }, 6, 4000), 6000);
});

test.run();
