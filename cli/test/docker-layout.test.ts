// The images' file trees, laid out from the Dockerfiles' final stages (only what they COPY, node_modules
// limited to production packages as `npm ci --omit=dev` leaves them) and run as the images run them:
// `node cli/bin/hil.js scheduler` from the server tree serves /healthz and the dashboard, `hil agent`
// from the agent tree hosts a virtual ESP32, and `hil run` from the server tree passes a run on it.
// The demo profile's token script (docker/compose.yaml, demo-token) runs against that scheduler too.
// So a file the runtime needs but the Dockerfile leaves out fails here. Needs `npm run build` first
// (npm test builds before it runs tests).
import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildEsp32Image } from "@hil/lab-agent";
import { freePort, makeTempDir, type PrivateRedis, type Spawned, spawnTracked, startPrivateRedis } from "@hil/test-kit";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse as parseYaml } from "yaml";
import { ROOT, assembleImage, envOf, interpolate, parseDockerfile, stagesOf } from "./docker-check.js";

const ADMIN = "admin-token-docker-layout";
const CI = "ci-token-docker-layout";
const AGENT = "rc";
const AGENT_TOKEN = "rc-agent-token-docker-layout";

let tmp: { dir: string; remove(): Promise<void> };
let redis: PrivateRedis | undefined;
const started: Spawned[] = [];
const images: Record<"server" | "agent", { dir: string; env: Record<string, string> }> = { server: { dir: "", env: {} }, agent: { dir: "", env: {} } };
let url = "";

test.before(async () => {
  tmp = await makeTempDir("hil-docker-layout-");
  for (const kind of ["server", "agent"] as const) {
    const stages = stagesOf(parseDockerfile(readFileSync(join(ROOT, "docker", `${kind}.Dockerfile`), "utf8")));
    const dir = join(tmp.dir, kind);
    assembleImage(stages, dir);
    images[kind] = { dir, env: envOf(stages.at(-1)!) };
  }
  redis = await startPrivateRedis({ password: true });
});
test.after(async () => {
  await Promise.allSettled(started.map((p) => p.stop()));
  await redis?.stop();
  await tmp?.remove();
});

/** `hil ARGS` as the image's entry point runs it: node on the tree's cli/bin/hil.js, WORKDIR the tree, the image's environment. */
function hilIn(kind: "server" | "agent", args: string[], env: Record<string, string>): Spawned {
  const image = images[kind];
  const p = spawnTracked(process.execPath, [join(image.dir, "cli", "bin", "hil.js"), ...args], {
    cwd: image.dir,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmp.dir, ...image.env, ...env },
  });
  started.push(p);
  return p;
}

test("the server tree runs hil scheduler: /healthz answers and the dashboard is served at /", async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  const scheduler = hilIn("server", ["scheduler"], {
    // the image listens on 0.0.0.0:8080; here a free loopback port, everything else as the image sets it
    HIL_HOST: "127.0.0.1",
    HIL_PORT: String(port),
    HIL_ARTIFACT_DIR: join(tmp.dir, "artifacts"),
    REDIS_URL: redis!.url,
    HIL_ADMIN_TOKEN: ADMIN,
    HIL_TOKENS: `ci:${CI},${AGENT}:agent:${AGENT_TOKEN}`,
  });
  await scheduler.waitFor(/scheduler listening on/, 60_000);
  const health = await fetch(`${url}/healthz`);
  assert.is(health.status, 200, scheduler.output());
  const page = await fetch(`${url}/`);
  assert.is(page.status, 200);
  const html = await page.text();
  assert.match(html, /<script type="module" src="\/ui\/main\.js">/);
  assert.is((await fetch(`${url}/ui/main.js`)).status, 200, "the dashboard bundle is in the image");
});

test("the agent tree runs hil agent with a virtual ESP32, and hil run from the server tree passes on it", async () => {
  assert.ok(url, "the scheduler test ran first");
  const agent = hilIn("agent", ["agent", "--name", AGENT, "--virtual", "esp32=1", "--no-discover", "--scheduler-url", url, "--cache-dir", join(tmp.dir, "cache")], {
    REDIS_URL: redis!.bareUrl,
    HIL_TOKEN: AGENT_TOKEN,
  });
  await agent.waitFor(/agent rc ready with 1 board/, 60_000);
  const app = join(tmp.dir, "app.bin");
  await writeFile(app, buildEsp32Image({ appDesc: { projectName: "docker_layout", version: "1.0.0" }, scenario: { kind: "console" } }));
  const run = hilIn("server", ["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "3m", "--wait"], {
    HIL_URL: url,
    HIL_TOKEN: CI,
  });
  assert.is(await run.exited, 0, `${run.output()}\n--- agent:\n${agent.output().slice(-3000)}`);
  assert.match(run.output(), /run \S+ passed/);
});

test("the demo profile's token script makes the demo agent's token once, 0600, and the scheduler makes its Redis user", async () => {
  assert.ok(url, "the scheduler test ran first");
  const compose = parseYaml(readFileSync(join(ROOT, "docker", "compose.yaml"), "utf8")) as { services: Record<string, { entrypoint?: string[]; command?: string[]; environment?: Record<string, string>; volumes?: string[] }> };
  const service = compose.services["demo-token"];
  assert.equal(service?.entrypoint, ["/bin/sh", "-c"]);
  // the service's volume, here a directory; `hil` on the PATH as the image's wrapper puts it there
  const mount = service?.volumes?.[0]?.split(":")[1] ?? "";
  assert.ok(mount.startsWith("/"), "the token goes to a volume");
  const volume = join(tmp.dir, "demo-agent-volume");
  const bin = join(tmp.dir, "bin");
  await Promise.all([mkdir(volume, { mode: 0o700 }), mkdir(bin)]);
  await writeFile(join(bin, "hil"), `#!/bin/sh\nexec "${process.execPath}" "${join(images.server.dir, "cli", "bin", "hil.js")}" "$@"\n`);
  await chmod(join(bin, "hil"), 0o755);
  const script = interpolate(service?.command?.[0] ?? "", { HIL_ADMIN_TOKEN: ADMIN }).replaceAll(mount, volume);
  const env = Object.fromEntries(Object.entries(service?.environment ?? {}).map(([k, v]) => [k, interpolate(v, { HIL_ADMIN_TOKEN: ADMIN })]));
  assert.is(env["HIL_URL"], "http://server:8080", "it talks to the server service");
  const runScript = async () => {
    const p = spawnTracked("/bin/sh", ["-c", script], { cwd: tmp.dir, env: { ...env, HIL_URL: url, PATH: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: tmp.dir } });
    started.push(p);
    assert.is(await p.exited, 0, p.output());
  };
  await runScript();
  const file = join(volume, "agent-token");
  const token = await readFile(file, "utf8");
  assert.is((await stat(file)).mode & 0o777, 0o600);
  const me = hilIn("server", ["whoami", "--token-file", file], { HIL_URL: url });
  assert.is(await me.exited, 0, me.output());
  assert.match(me.output(), /^demo-1 \(role agent/m);
  await runScript();
  assert.is(await readFile(file, "utf8"), token, "a second start keeps the token the lab still accepts");
  const admin = new Redis(redis!.url);
  try {
    const user = (await admin.call("ACL", "GETUSER", "hil-agent-hil-demo-1")) as unknown[] | null;
    assert.ok(user, "the scheduler made the demo agent's Redis user");
  } finally {
    admin.disconnect();
  }
});

test.run();
