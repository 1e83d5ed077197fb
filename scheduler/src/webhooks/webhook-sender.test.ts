// One webhook POST against a local receiver: the address policy refuses loopback for a token's webhook unless the
// host is allowed, a redirect is a failed attempt (never followed), a slow receiver runs into the deadline, and
// the signature helper verifies what it signed and nothing else.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { postWebhook, type WebhookPost } from "./webhook-sender.js";
import { signWebhook, verifyWebhook } from "./webhook-signature.js";

let server: Server;
let base = "";
const hits: string[] = [];

test.before(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url === "/moved") res.writeHead(302, { location: "/ok" }).end();
    else if (req.url === "/slow") setTimeout(() => res.writeHead(200).end(), 2000);
    else res.writeHead(204).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const post = (path: string, extra: Partial<WebhookPost> = {}) =>
  postWebhook({ url: `${base}${path}`, body: "{}", headers: {}, checkAddress: true, allowHosts: [], timeoutMs: 5000, ...extra });

test("a token's webhook at a loopback address is refused before connecting, unless the host is allowed", async () => {
  hits.length = 0;
  const refused = await post("/ok");
  assert.equal(refused.ok, false);
  assert.match(refused.ok ? "" : refused.reason, /loopback address.*HIL_WEBHOOK_ALLOW_HOSTS/);
  assert.equal(hits, [], "nothing reached the receiver");
  assert.equal(await post("/ok", { allowHosts: [{ host: "127.0.0.1" }] }), { ok: true, status: 204 });
  assert.equal(await post("/ok", { checkAddress: false }), { ok: true, status: 204 }, "the lab's own webhooks are not checked");
});

test("a redirect is a failed attempt and is not followed; a slow receiver hits the deadline", async () => {
  hits.length = 0;
  const moved = await post("/moved", { checkAddress: false });
  assert.equal(moved, { ok: false, reason: "answered HTTP 302" });
  assert.equal(hits, ["/moved"]);
  const slow = await post("/slow", { checkAddress: false, timeoutMs: 200 });
  assert.equal(slow, { ok: false, reason: "no answer within 200 ms" });
});

test("verifyWebhook accepts what signWebhook signed, within the tolerance, and nothing else", () => {
  const now = Date.now();
  const ts = Math.floor(now / 1000);
  const body = '{"event":"run.finished"}';
  const signature = signWebhook("secret-secret-secret", ts, body);
  assert.match(signature, /^sha256=[0-9a-f]{64}$/);
  assert.ok(verifyWebhook("secret-secret-secret", { signature, timestamp: String(ts) }, body, now));
  assert.not.ok(verifyWebhook("secret-secret-secret", { signature, timestamp: String(ts) }, `${body} `, now), "another body");
  assert.not.ok(verifyWebhook("another-secret-here", { signature, timestamp: String(ts) }, body, now), "another secret");
  assert.not.ok(verifyWebhook("secret-secret-secret", { signature, timestamp: String(ts + 1) }, body, now), "another timestamp");
  assert.not.ok(verifyWebhook("secret-secret-secret", { signature, timestamp: String(ts) }, body, now + 600_000), "too old");
});

test.run();
