// End to end on a Redis Cluster of three primaries (real redis-servers joined by `redis-cli --cluster create`):
// `hil scheduler` and `hil agent --virtual esp32=1` both take a redis+cluster:// URL, the agent logs in as its
// own ACL user (made on every node), and a real `hil run` goes through BullMQ, the lab's Lua scripts, the event
// and log streams and the cancel channel to JUnit. Afterwards every node is asked where the lab's keys are:
// all of them in the one slot of the `{namespace}` hash tag, on one node, and none anywhere else.
import { randomUUID } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { agentRedisUser, labKeys, type Run } from "@hil/contracts";
import { buildEsp32Image } from "@hil/lab-agent";
import { RedisClusterToolMissingError, startPrivateRedisCluster, type PrivateRedisCluster } from "@hil/scheduler/redis";
import { freePort, makeTempDir, type Spawned, spawnHil, waitUntil } from "@hil/test-kit";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ADMIN_TOKEN, agentToken, CI_TOKEN, LAB_AGENTS } from "./lab-fixture.js";

const AGENT = "cl";

let cluster: PrivateRedisCluster | undefined;
try {
  cluster = await startPrivateRedisCluster({ password: true });
} catch (err) {
  if (!(err instanceof RedisClusterToolMissingError)) throw err;
  console.log(`[skip] ${err.message}`);
}

if (cluster) {
  const redisCluster = cluster;
  const tmp = await makeTempDir("hil-cluster-e2e-");
  const namespace = `cl${randomUUID().slice(0, 8)}`;
  const keys = labKeys(namespace);
  const started: Spawned[] = [];
  const nodeClients = redisCluster.nodes.map((n) => new Redis(n.url).on("error", () => {}));
  let url = "";
  let agent: Spawned | undefined;

  const hil = (args: string[], token = CI_TOKEN) => {
    const p = spawnHil(args, { env: { ...process.env, HIL_URL: url, HIL_TOKEN: token } });
    started.push(p);
    return p;
  };
  const api = async <T>(method: string, path: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const image = async (name: string, scenario: Parameters<typeof buildEsp32Image>[0]) => {
    const file = join(tmp.dir, name);
    await writeFile(file, buildEsp32Image(scenario));
    return file;
  };

  // started here, not in test.before: uvu drops a before hook's error, and this one should say what went wrong
  try {
    assert.ok(LAB_AGENTS.includes(AGENT));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const tokens = [`ci:${CI_TOKEN}`, `${AGENT}:agent:${agentToken(AGENT)}`].join(",");
    const scheduler = spawnHil(["scheduler", "--port", String(port), "--artifact-dir", join(tmp.dir, "artifacts"), "--namespace", namespace], {
      // the URL with the password goes through the environment, never a command line
      env: { ...process.env, REDIS_URL: redisCluster.url, HIL_TOKENS: tokens, HIL_ADMIN_TOKEN: ADMIN_TOKEN, HIL_TICK: "200ms", HIL_LEASE_TTL: "4s" },
    });
    started.push(scheduler);
    await scheduler.waitFor(/scheduler listening on/, 60_000);
    // no password in the agent's URL: it logs in as hil-agent-<ns>-cl with its token, on whichever node it reaches
    agent = spawnHil(
      ["agent", "--redis", redisCluster.bareUrl, "--namespace", namespace, "--name", AGENT, "--heartbeat", "500ms", "--lease-ttl", "4s", "--scheduler-url", url,
        "--cache-dir", join(tmp.dir, "cache"), "--no-discover", "--virtual", "esp32=1"],
      { env: { ...process.env, HIL_TOKEN: agentToken(AGENT) } },
    );
    started.push(agent);
    await agent.waitFor(/agent \S+ ready with/, 60_000);
  } catch (err) {
    const outputs = started.map((p) => p.output().slice(-4000)).join("\n---\n");
    await Promise.allSettled(started.map((p) => p.stop()));
    for (const c of nodeClients) c.disconnect();
    await redisCluster.stop();
    await tmp.remove();
    throw new Error(`the lab did not start on the cluster: ${(err as Error).message}\n${outputs}`, { cause: err });
  }

  test.after(async () => {
    await Promise.allSettled(started.map((p) => p.stop()));
    for (const c of nodeClients) c.disconnect();
    await redisCluster.stop();
    await tmp.remove();
  });

  test("hil run on a virtual ESP32 through a 3-primary Redis Cluster: passes, follows the console, writes JUnit", async () => {
    const app = await image("console.bin", { appDesc: { projectName: "cluster_console", version: "1.0.0" }, scenario: { kind: "console" } });
    const junit = join(tmp.dir, "smoke.xml");
    const run = hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "2m", "--wait", "--follow", "--junit", junit]);
    assert.is(await run.exited, 0, run.output() + (agent?.output() ?? ""));
    assert.match(run.output(), /main_task: Calling app_main\(\)/, "--follow streamed the console (the run's log stream)");
    const xml = await readFile(junit, "utf8");
    assert.match(xml, /<testsuite[^>]*\bfailures="0"/);
    assert.match(xml, /<testcase[^>]*name="[^"]*app started/);
    assert.not.match(xml, /<failure|<error/);

    const board = /running on (\S+)/.exec(run.output())?.[1] ?? "";
    const logs = hil(["logs", "--board", board]);
    assert.is(await logs.exited, 0, logs.output());
    assert.match(logs.output(), /cluster_console/, "the board's log stream holds the boot log");
  });

  test("a cancel reaches the agent over cluster pub/sub and frees the board", async () => {
    // a board that resets before app_main: the run waits 20 s for "app started", time enough to cancel it
    const app = await image("bootloop.bin", { scenario: { kind: "bootloop" } });
    const sub = hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "5m"]);
    assert.is(await sub.exited, 0, sub.output());
    const id = /run (\S+) submitted/.exec(sub.output())?.[1] ?? "";
    await waitUntil("run running", async () => (await api<Run>("GET", `/api/v1/runs/${id}`)).body.state === "running", 60_000, 100);
    const cancel = await api<Run>("POST", `/api/v1/runs/${id}/cancel`);
    assert.is(cancel.status, 200);
    await waitUntil("the agent's cancel message", async () => (agent?.output() ?? "").includes("cancel received: aborting the run"), 30_000);
    await waitUntil("board idle again", async () => {
      const boards = await api<{ boards: { id: string; state: string }[] }>("GET", "/api/v1/boards");
      return boards.body.boards.length === 1 && boards.body.boards.every((b) => b.state === "idle");
    }, 60_000);
    assert.is((await api<Run>("GET", `/api/v1/runs/${id}`)).body.state, "cancelled");
  });

  test("/healthz, /metrics, hil boards and hil runs read the lab through the cluster client", async () => {
    const health = await fetch(`${url}/healthz`);
    assert.is(health.status, 200);
    assert.match(JSON.stringify(await health.json()), /"reachable":true,"version":"\d+\./);
    const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.is(metrics.status, 200);
    assert.match(await metrics.text(), /hil_runs_ended_total\{state="passed"\} 1/);
    const [boards, runs] = [hil(["boards"]), hil(["runs", "--state", "passed"])];
    assert.equal(await Promise.all([boards.exited, runs.exited]), [0, 0], boards.output() + runs.output());
    assert.match(boards.output(), /cl-vesp32-0\s+esp32-virtual\s+idle/);
    assert.match(runs.output(), /passed/);
  });

  test("the agent's ACL user exists on every node", async () => {
    const user = agentRedisUser(namespace, AGENT);
    for (const [i, c] of nodeClients.entries()) {
      const info = await c.call("ACL", "GETUSER", user);
      assert.ok(info, `node ${i} (port ${redisCluster.nodes[i]?.port}) has no user ${user}`);
    }
  });

  test("every key of the lab is in the one slot of its {namespace} hash tag, on one node", async () => {
    const slot = Number(await nodeClients[0]!.cluster("KEYSLOT", `{${namespace}}`));
    const perNode: string[][] = [];
    for (const c of nodeClients) {
      const found: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await c.scan(cursor, "COUNT", 1000);
        cursor = next;
        found.push(...batch);
      } while (cursor !== "0");
      perNode.push(found);
    }
    const all = perNode.flat();
    // the cluster is this test's own: any key outside the tag escaped it
    const strays = all.filter((k) => !k.startsWith(`{${namespace}}:`));
    assert.equal(strays, [], "keys without the lab's hash tag");
    for (const key of all) assert.is(Number(await nodeClients[0]!.cluster("KEYSLOT", key)), slot, `${key} is in another slot`);
    const holders = perNode.map((k, i) => (k.length > 0 ? i : -1)).filter((i) => i >= 0);
    assert.is(holders.length, 1, `the lab's keys are spread over nodes ${holders.join(", ")}`);
    const holder = holders[0]!;
    assert.is(Number(await nodeClients[holder]!.cluster("COUNTKEYSINSLOT", slot)), all.length, "COUNTKEYSINSLOT counts every key the scan found");
    // the parts the run went through: agent and board records, BullMQ's queue, the event stream, log streams, the run
    for (const expected of [keys.agents(), keys.boards(), keys.events(), `${keys.bullPrefix}:${keys.agentQueue(AGENT)}:`, `{${namespace}}:log:board:`, `{${namespace}}:log:run:`, `{${namespace}}:run:`]) {
      assert.ok(all.some((k) => k.startsWith(expected)), `no key ${expected}… (found ${all.length}: ${all.slice(0, 20).join(" ")})`);
    }
  });

  test("no part of the lab met a refused or cross-slot command", () => {
    const scheduler = started[0]?.output() ?? "";
    const agentOut = agent?.output() ?? "";
    for (const [who, out] of [["scheduler", scheduler], ["agent", agentOut]] as const) {
      assert.not.match(out, /NOPERM|CROSSSLOT|non local key|Redis ACL users not updated/, `${who} output:\n${out}`);
    }
    assert.match(scheduler, /Redis ACL: one user per agent token/, "the scheduler keeps agent users on the cluster");
  });

  test.run();
}
