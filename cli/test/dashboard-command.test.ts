// The dashboard gateway as the lab runs it: on `hil scheduler`'s own port (one URL), and alone with `hil dashboard`,
// which takes the Redis URL and admin token from files, never from its command line.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { io as connectClient, type Socket } from "socket.io-client";
import { makeTempDir, type PrivateRedis, spawnHil, startPrivateRedis } from "@hil/test-kit";
import type { Ack } from "@hil/dashboard";

const PASSWORD = "dashboard-redis-0123456789";
const ADMIN = "dashboard-admin-0123456789";

let redis: PrivateRedis;
let tmp: { dir: string; remove(): Promise<void> };
let env: NodeJS.ProcessEnv;
let urlFile: string;
let tokenFile: string;

test.before(async () => {
  tmp = await makeTempDir("hil-dashboard-cmd-");
  redis = await startPrivateRedis({ password: PASSWORD });
  env = { ...process.env };
  for (const k of ["REDIS_URL", "REDIS_URL_FILE", "HIL_ADMIN_TOKEN", "HIL_ADMIN_TOKEN_FILE", "HIL_DASHBOARD_GATEWAY"]) delete env[k];
  urlFile = join(tmp.dir, "redis.url");
  tokenFile = join(tmp.dir, "admin-token");
  writeFileSync(urlFile, `${redis.url}\n`, { mode: 0o600 });
  writeFileSync(tokenFile, `${ADMIN}\n`, { mode: 0o600 });
});
test.after(async () => {
  await redis?.stop();
  await tmp?.remove();
});

/** Connects with `token` and joins the changes room; resolves with the join's answer or the connect error. */
async function joinChanges(url: string, token: string): Promise<Ack | string> {
  const socket: Socket = connectClient(url, { transports: ["websocket"], reconnection: false, auth: { token } });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    return (await socket.emitWithAck("join", { room: "changes" })) as Ack;
  } catch (err) {
    return (err as Error).message;
  } finally {
    socket.disconnect();
  }
}

test("hil scheduler serves the gateway on the API's port; HIL_DASHBOARD_GATEWAY=off leaves it out", async () => {
  const s = spawnHil(["scheduler", "--port", "0", "--redis-url-file", urlFile, "--token-file", tokenFile, "--artifact-dir", tmp.dir], { env });
  try {
    const url = (await s.waitFor(/listening on (http:\/\/\S+)/, 60_000))[1] ?? "";
    assert.equal(await joinChanges(url, ADMIN), { ok: true, room: "changes" });
    assert.is(await joinChanges(url, "wrong-token-0123456789"), "unauthorized");
    // the page and its bundle, on the same port, with the page's own policy (no inline script, nothing framed)
    const page = await fetch(`${url}/`);
    assert.is(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /script-src 'self';.*frame-ancestors 'none'/);
    assert.match(await page.text(), /<script type="module" src="\/ui\/main\.js">/);
    const bundle = await fetch(`${url}/ui/main.js`);
    assert.is(bundle.status, 200);
    assert.match(bundle.headers.get("content-type") ?? "", /javascript/);
    assert.is((await fetch(`${url}/ui/..%2Fweb-types%2Fmain.d.ts`)).status, 404, "only the bundle's own files");
  } finally {
    await s.stop();
  }
  const off = spawnHil(["scheduler", "--port", "0", "--redis-url-file", urlFile, "--token-file", tokenFile, "--artifact-dir", tmp.dir], { env: { ...env, HIL_DASHBOARD_GATEWAY: "off" } });
  try {
    const url = (await off.waitFor(/listening on (http:\/\/\S+)/, 60_000))[1] ?? "";
    const res = await fetch(`${url}/socket.io/?EIO=4&transport=polling`);
    assert.is(res.status, 404, "no gateway: the path is an unknown route");
    assert.is((await fetch(`${url}/`)).status, 404, "no dashboard pages either");
  } finally {
    await off.stop();
  }
});

test("hil dashboard runs the gateway alone, with the Redis URL and admin token from files", async () => {
  const d = spawnHil(["dashboard", "--port", "0", "--redis-url-file", urlFile, "--token-file", tokenFile], { env });
  try {
    const url = (await d.waitFor(/listening on (http:\/\/\S+)/, 60_000))[1] ?? "";
    assert.equal(await joinChanges(url, ADMIN), { ok: true, room: "changes" });
    assert.is(await joinChanges(url, "wrong-token-0123456789"), "unauthorized");
    const cmdline = readFileSync(`/proc/${d.pid}/cmdline`, "utf8");
    assert.not.ok(cmdline.includes(PASSWORD), "no Redis password in argv");
    assert.not.ok(cmdline.includes(ADMIN), "no admin token in argv");
  } finally {
    await d.stop();
  }
});

test("hil dashboard refuses a Redis URL with a password on its command line", async () => {
  const p = spawnHil(["dashboard", "--redis", `redis://:${PASSWORD}@127.0.0.1:1`], { env: { ...env, HIL_ADMIN_TOKEN: ADMIN } });
  assert.is(await p.exited, 64, p.output());
  assert.match(p.output(), /--redis-url-file/);
  assert.not.match(p.output(), PASSWORD);
});

test("hil dashboard serves the pages and forwards their API calls to --api-url, so the page has one origin", async () => {
  const s = spawnHil(["scheduler", "--port", "0", "--redis-url-file", urlFile, "--token-file", tokenFile, "--artifact-dir", tmp.dir], { env: { ...env, HIL_DASHBOARD_GATEWAY: "off" } });
  const api = (await s.waitFor(/listening on (http:\/\/\S+)/, 60_000))[1] ?? "";
  const d = spawnHil(["dashboard", "--port", "0", "--redis-url-file", urlFile, "--token-file", tokenFile, "--api-url", api], { env });
  const alone = spawnHil(["dashboard", "--port", "0", "--redis-url-file", urlFile, "--token-file", tokenFile], { env: { ...env, HIL_URL: "" } });
  try {
    const url = (await d.waitFor(/listening on (http:\/\/\S+)/, 60_000))[1] ?? "";
    assert.is((await fetch(`${url}/`)).status, 200);
    const me = await fetch(`${url}/api/v1/me`, { headers: { authorization: `Bearer ${ADMIN}` } });
    assert.is(me.status, 200);
    assert.is(((await me.json()) as { name: string }).name, "admin");
    assert.is((await fetch(`${url}/api/v1/me`)).status, 401, "the scheduler still decides who may");
    const lonely = (await alone.waitFor(/listening on (http:\/\/\S+)/, 60_000))[1] ?? "";
    const refused = await fetch(`${lonely}/api/v1/me`);
    assert.is(refused.status, 502);
    assert.match(await refused.text(), /--api-url/);
  } finally {
    await alone.stop();
    await d.stop();
    await s.stop();
  }
});

test.run();
