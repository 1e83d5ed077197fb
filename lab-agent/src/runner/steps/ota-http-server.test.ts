import { createHash } from "node:crypto";
import { get } from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { buildEsp32Image } from "../../esp32-image/image-writer.js";
import { readEsp32Image } from "../../esp32-image/image-reader.js";
import { OtaHttpServer, type OtaServeOptions } from "./ota-http-server.js";

const IMAGE = buildEsp32Image({ appDesc: { projectName: "srv", version: "5.1.0" }, padTo: 32 * 1024 });

/** GET with node's client: status, body bytes, whether the body arrived complete. */
function fetchBytes(url: string): Promise<{ status: number; body: Buffer; complete: boolean; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    get(url, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      const done = () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts), complete: res.complete, ms: Date.now() - started });
      res.on("end", done);
      res.on("error", done);
    }).on("error", () => resolve({ status: 0, body: Buffer.alloc(0), complete: false, ms: Date.now() - started }));
  });
}

async function withServer(opts: Partial<OtaServeOptions>, fn: (s: OtaHttpServer) => Promise<void>): Promise<void> {
  const s = await OtaHttpServer.start({ image: IMAGE, host: "127.0.0.1", ...opts });
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

test("serves the image and a manifest naming its version and hash; other paths are 404", async () => {
  await withServer({}, async (s) => {
    assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/firmware\.bin$/);
    const img = await fetchBytes(s.url);
    assert.equal([img.status, img.complete], [200, true]);
    assert.ok(img.body.equals(Buffer.from(IMAGE)));
    const manifest = JSON.parse((await fetchBytes(s.manifestUrl)).body.toString()) as Record<string, unknown>;
    assert.equal(manifest, { version: "5.1.0", url: "/firmware.bin", size: IMAGE.length, sha256: createHash("sha256").update(IMAGE).digest("hex") });
    assert.is((await fetchBytes(s.url.replace("firmware.bin", "nope"))).status, 404);
    assert.equal(s.requests.filter((r) => r.path === "/firmware.bin").map((r) => [r.end, r.bytesSent, r.total]), [["done", IMAGE.length, IMAGE.length]]);
  });
});

test("cut: the body stops at the given share and the connection drops short of Content-Length", async () => {
  await withServer({ fault: "cut", cutAtPercent: 25 }, async (s) => {
    const r = await fetchBytes(s.url);
    assert.is(r.complete, false);
    assert.is(r.body.length, 8 * 1024);
    const rec = await s.waitForDownload(0, new AbortController().signal);
    assert.equal([rec.end, rec.bytesSent, rec.total], ["cut", 8 * 1024, IMAGE.length]);
  });
});

test("wrong-chip keeps the image valid for another chip; corrupt breaks its checksum", async () => {
  await withServer({ fault: "wrong-chip" }, async (s) => {
    const info = readEsp32Image(new Uint8Array((await fetchBytes(s.url)).body));
    assert.equal([info.chip, info.ok, info.hash?.valid], ["esp32s3", true, true]);
  });
  await withServer({ fault: "corrupt" }, async (s) => {
    const info = readEsp32Image(new Uint8Array((await fetchBytes(s.url)).body));
    assert.is(info.checksum.valid, false);
    assert.match(s.faultDetail, /^byte 0x[0-9a-f]+ inverted$/);
  });
});

test("throttle: 32 KiB at 64 KiB/s takes at least about half a second", async () => {
  await withServer({ throttle: 64 * 1024 }, async (s) => {
    const r = await fetchBytes(s.url);
    assert.is(r.body.length, IMAGE.length);
    assert.ok(r.ms >= 400, `took ${r.ms} ms`);
  });
});

test.run();
