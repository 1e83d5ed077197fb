// `npm run lab` end to end: it comes up healthy, writes lab.env, keeps every secret off every command
// line, and Ctrl-C leaves no process behind.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { freePort, makeTempDir, pidAlive, REPO_ROOT, spawnTracked, waitUntil } from "@hil/test-kit";
import { Redis } from "ioredis";

/** Processes whose command line mentions `needle` (the lab's private data dir). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmdline.includes(needle)) pids.push(Number(entry));
    } catch {
      // gone already
    }
  }
  return pids;
}

test("npm run lab answers /healthz with Redis reachable and Ctrl-C stops all it started", async () => {
  const tmp = await makeTempDir("hil-lab-");
  const port = await freePort();
  const lab = spawnTracked(process.execPath, [join(REPO_ROOT, "scripts", "lab.mjs")], {
    env: { ...process.env, LAB_PORT: String(port), HIL_DATA_DIR: tmp.dir, HIL_LAB_SKIP_SETUP: "1", REDIS_URL: "" },
  });
  try {
    await lab.waitFor(/HIL Lab is up/, 120_000);
    assert.match(lab.output(), new RegExp(`Dashboard: +http://127\\.0\\.0\\.1:${port}`));
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.is(page.status, 200, "the dashboard is the lab URL's page");
    assert.match(await page.text(), /HIL Lab/);
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.is(res.status, 200);
    const body = (await res.json()) as { redis: { reachable: boolean; version?: string } };
    assert.is(body.redis.reachable, true);
    assert.match(body.redis.version ?? "", /^\d+\.\d+/);

    const envFile = readFileSync(join(tmp.dir, "lab.env"), "utf8");
    assert.match(envFile, new RegExp(`HIL_URL=http://127.0.0.1:${port}`));
    const token = /HIL_TOKEN=(\S+)/.exec(envFile)?.[1];
    assert.ok(token, "token written");
    const unauth = await fetch(`http://127.0.0.1:${port}/api/v1/boards`);
    assert.is(unauth.status, 401);
    const boards = await fetch(`http://127.0.0.1:${port}/api/v1/boards`, { headers: { authorization: `Bearer ${token}` } });
    assert.is(boards.status, 200);

    const pids = JSON.parse(readFileSync(join(tmp.dir, "lab.pids.json"), "utf8")) as {
      redis: number | null;
      services: Record<string, number>;
    };
    const started = [pids.redis, ...Object.values(pids.services)].filter((p): p is number => typeof p === "number");
    assert.ok(started.length >= 3, "redis, scheduler and agent were started");
    const beforeStop = processesMentioning(tmp.dir);
    assert.ok(beforeStop.length >= 2, "lab processes are findable by their data dir");

    // No secret on any command line (ps shows argv to every local user); secrets in owner-only files.
    const secrets = Object.fromEntries(
      ["admin-token", "agent-token", "redis.password"].map((f) => {
        const file = join(tmp.dir, f);
        assert.is(statSync(file).mode & 0o777, 0o600, `${f} is readable by its owner only`);
        return [f, readFileSync(file, "utf8").trim()];
      }),
    );
    assert.is(secrets["admin-token"], token);
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(value.length >= 16, `${name} is set`);
      assert.equal(processesMentioning(value), [], `no process has the ${name} on its command line`);
    }
    assert.is(statSync(join(tmp.dir, "lab.env")).mode & 0o777, 0o600);
    const redisPort = Number(/REDIS_URL=\S*127\.0\.0\.1:(\d+)/.exec(envFile)?.[1]);
    const anonymous = new Redis(redisPort, "127.0.0.1", { maxRetriesPerRequest: 0, enableReadyCheck: false });
    anonymous.on("error", () => {});
    await anonymous.ping().then(
      () => assert.unreachable("the lab's Redis answered without a password"),
      (err: Error) => assert.match(err.message, /^NOAUTH/),
    );
    anonymous.disconnect();
    const redis = new Redis(redisPort, "127.0.0.1", { password: secrets["redis.password"] });
    const agentLoggedIn = async () => ((await redis.call("CLIENT", "LIST")) as string).includes(" user=hil-agent-hil-lab-1 ");
    const deadline = Date.now() + 60_000;
    while (!(await agentLoggedIn()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    assert.ok(await agentLoggedIn(), "the agent logs in as its own Redis user");
    redis.disconnect();

    lab.child.kill("SIGINT");
    assert.is(await lab.exited, 0);
    await waitUntil("every started PID to be gone", () => started.every((p) => !pidAlive(p)), 15_000);
    await waitUntil("no process mentioning the data dir", () => processesMentioning(tmp.dir).length === 0, 15_000);
  } finally {
    await lab.stop("SIGKILL");
    for (const pid of processesMentioning(tmp.dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await tmp.remove();
  }
});

test.run();
