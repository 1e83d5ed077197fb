// ArtifactCache against a real HTTP server on a free port: hash-checked downloads, one download
// for concurrent requests, cache hits, and clear errors for corrupt or unknown artifacts.
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { LabError } from "@hil/contracts";
import { withTempDir } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ArtifactCache } from "./artifact-cache.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const good = Buffer.from("firmware bytes ".repeat(1000));
const liar = Buffer.from("what the server says is this artifact");
const claimed = sha(Buffer.from("something else entirely"));
const unknown = "0".repeat(64);

test("downloads once, verifies the hash, serves later requests from the cache, refuses corrupt and unknown artifacts", async () => {
  const hits = new Map<string, number>();
  const auth: string[] = [];
  const server = createServer((req, res) => {
    const hash = req.url?.split("/").pop() ?? "";
    hits.set(hash, (hits.get(hash) ?? 0) + 1);
    auth.push(req.headers.authorization ?? "");
    if (hash === sha(good)) res.end(good);
    else if (hash === claimed) res.end(liar);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    await withTempDir(async (dir) => {
      const cache = new ArtifactCache({ cacheDir: dir, schedulerUrl: `http://127.0.0.1:${port}`, token: "tok" });
      const ref = { sha256: sha(good), size: good.length };
      const [a, b] = await Promise.all([cache.resolve(ref), cache.resolve(ref)]);
      assert.is(a, b);
      assert.ok((await readFile(a)).equals(good));
      await cache.resolve(ref);
      assert.is(hits.get(sha(good)), 1, "one download for two concurrent requests and a later one");
      assert.ok(auth.every((h) => h === "Bearer tok"));

      const corrupt = await cache.resolve({ sha256: claimed, size: liar.length }).catch((e: unknown) => e);
      assert.ok(corrupt instanceof LabError && corrupt.code === "PROTOCOL" && /corrupt/.test(corrupt.message), String(corrupt));
      const missing = await cache.resolve({ sha256: unknown, size: 1 }).catch((e: unknown) => e);
      assert.ok(missing instanceof LabError && missing.code === "ARTIFACT_MISSING", String(missing));
      // Nothing but the good file is left in the cache (no partial or corrupt files).
      const left = (await readdir(dir, { recursive: true })).filter((f) => f.length > 2);
      assert.equal(left.map((f) => f.split("/").pop()), [sha(good)]);
    });
  } finally {
    server.close();
  }
});

test.run();
