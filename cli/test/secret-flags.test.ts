// `hil scheduler` and `hil agent` take no secret on their command line (ps shows argv to every local
// user): --token is gone, --redis refuses a URL with a password, files and the environment carry them.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makeTempDir, spawnHil, startPrivateRedis } from "@hil/test-kit";

const PASSWORD = "not-for-ps-0123456789";

test("--redis with a password is a usage error pointing at REDIS_URL / --redis-url-file, and the password is not echoed", async () => {
  for (const args of [
    ["scheduler", "--redis", `redis://:${PASSWORD}@127.0.0.1:1`],
    ["agent", "--name", "a1", "--redis", `redis://hil-agent:${PASSWORD}@127.0.0.1:1`],
  ]) {
    const p = spawnHil(args, { env: { ...process.env, HIL_ADMIN_TOKEN: "admin-token-0123" } });
    assert.is(await p.exited, 64, p.output());
    assert.match(p.output(), /REDIS_URL/);
    assert.match(p.output(), /--redis-url-file/);
    assert.not.match(p.output(), PASSWORD);
  }
});

test("--token is gone from both services: a usage error naming the environment variable and --token-file", async () => {
  const s = spawnHil(["scheduler", "--token", "admin-token-0123"]);
  assert.is(await s.exited, 64);
  assert.match(s.output(), /HIL_ADMIN_TOKEN/);
  assert.match(s.output(), /--token-file/);
  const a = spawnHil(["agent", "--name", "a1", "--redis", "redis://127.0.0.1:1", "--token", "agent-token-0123"]);
  assert.is(await a.exited, 64);
  assert.match(a.output(), /HIL_TOKEN/);
  assert.match(a.output(), /--token-file/);
});

test("the scheduler reads the Redis URL and its admin token from files; neither is on its command line", async () => {
  const tmp = await makeTempDir("hil-secret-flags-");
  const redis = await startPrivateRedis({ password: PASSWORD });
  const env = { ...process.env };
  for (const k of ["REDIS_URL", "REDIS_URL_FILE", "HIL_ADMIN_TOKEN", "HIL_ADMIN_TOKEN_FILE"]) delete env[k];
  const urlFile = join(tmp.dir, "redis.url");
  const tokenFile = join(tmp.dir, "admin-token");
  const adminToken = "admin-from-a-file-0123456789";
  writeFileSync(urlFile, `${redis.url}\n`, { mode: 0o600 });
  writeFileSync(tokenFile, `${adminToken}\n`, { mode: 0o600 });
  const s = spawnHil(["scheduler", "--port", "0", "--redis-url-file", urlFile, "--token-file", tokenFile, "--artifact-dir", tmp.dir], { env });
  try {
    const url = (await s.waitFor(/listening on (http:\/\/\S+)/, 60_000))[1] ?? "";
    const res = await fetch(`${url}/api/v1/boards`, { headers: { authorization: `Bearer ${adminToken}` } });
    assert.is(res.status, 200, "the admin token from the file works");
    const health = (await (await fetch(`${url}/healthz`)).json()) as { redis: { reachable: boolean } };
    assert.is(health.redis.reachable, true, "the password from the file works");
    const cmdline = readFileSync(`/proc/${s.pid}/cmdline`, "utf8");
    assert.not.ok(cmdline.includes(PASSWORD), "no Redis password in argv");
    assert.not.ok(cmdline.includes(adminToken), "no admin token in argv");
  } finally {
    await s.stop();
    await redis.stop();
    await tmp.remove();
  }
});

test.run();
