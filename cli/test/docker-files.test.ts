// docker/server.Dockerfile, docker/agent.Dockerfile and docker/compose.yaml checked against the code, with
// no Docker engine: every COPY source exists and survives .dockerignore (build outputs traced to their
// sources through `--from`), the entry point and the command's flags exist, every environment variable set
// is one the command reads, ports agree with the scheduler's configuration, the health check is a public
// route, the agent image has adb/fastboot and a non-root user in dialout/plugdev. Each check is shown to
// catch a broken copy of the files too.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadSchedulerConfig } from "@hil/scheduler";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse as parseYaml } from "yaml";
import { ROOT, checkHilArgs, composeVariables, copiesOf, dockerIgnore, envOf, envReadBy, interpolate, parseDockerfile, providedBy, stageBuilds, stagesOf, words, type Stage } from "./docker-check.js";

const read = (file: string) => readFileSync(join(ROOT, file), "utf8");
const SERVER = "docker/server.Dockerfile";
const AGENT = "docker/agent.Dockerfile";
const COMPOSE = "docker/compose.yaml";
/** Test-only workspaces (built, never imported by what runs): the images need not ship them. */
const TEST_ONLY_WORKSPACES = new Set(["test-kit"]);
const WORKSPACES = (JSON.parse(read("package.json")) as { workspaces: string[] }).workspaces.filter((w) => !TEST_ONLY_WORKSPACES.has(w));
/** Values for the variables compose requires (docker/.env on a real host). */
const DOTENV = { REDIS_PASSWORD: "redispassword0001", HIL_ADMIN_TOKEN: "admin-token-docker-check" };
const PLATFORM_ENV = new Set(["NODE_ENV"]);

function checkEnv(env: Record<string, string>, command: string, where: string): string[] {
  const read = envReadBy(command);
  return Object.keys(env).filter((k) => !read.has(k) && !PLATFORM_ENV.has(k)).map((k) => `${where}: sets ${k}, which hil ${command} does not read`);
}

interface Image {
  stages: Stage[];
  final: Stage;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
}

function imageOf(text: string): Image {
  const stages = stagesOf(parseDockerfile(text));
  const final = stages.at(-1)!;
  const last = (k: string) => final.instructions.filter((i) => i.keyword === k).at(-1)?.args;
  return { stages, final, env: envOf(final), entrypoint: words(last("ENTRYPOINT") ?? "[]"), cmd: words(last("CMD") ?? "[]") };
}

/** Everything wrong with one Dockerfile. */
function checkDockerfile(text: string, kind: "server" | "agent", dockerignore = read(".dockerignore")): string[] {
  const problems: string[] = [];
  const ignored = dockerIgnore(dockerignore);
  const { stages, final, env, entrypoint, cmd } = imageOf(text);
  const runs = (s: Stage) => s.instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
  if (final.base !== "node:20-bookworm-slim") problems.push(`final stage is based on ${final.base}`);

  // every COPY source: in the context and not ignored, or a stage defined before that produced it
  stages.forEach((stage, index) => {
    for (const c of copiesOf(stage)) {
      for (const src of c.sources) {
        const where = `${kind} line ${c.line}`;
        if (!c.from) {
          if (!existsSync(join(ROOT, src)) || ignored(src)) problems.push(`${where}: COPY source ${src} is not in the build context (missing or in .dockerignore)`);
          continue;
        }
        const fromIndex = stages.findIndex((s) => s.name === c.from);
        if (fromIndex < 0 || fromIndex >= index) {
          problems.push(`${where}: --from=${c.from} is no earlier stage`);
          continue;
        }
        if (!stageBuilds(stages, c.from, src, ignored)) problems.push(`${where}: ${src} from stage ${c.from} is not something that stage builds or copies`);
      }
    }
  });

  // runtime node_modules from a production-only install; the build stage builds
  const nm = copiesOf(final).find((c) => c.sources.some((s) => s.endsWith("/node_modules")));
  const nmStage = stages.find((s) => s.name === nm?.from);
  if (!nmStage || !runs(nmStage).some((r) => /npm ci\b.*--omit=dev/.test(r)) || runs(nmStage).some((r) => /npm ci\b(?!.*--omit=dev)/.test(r)))
    problems.push("the final stage's node_modules do not come from an `npm ci --omit=dev` stage");
  if (!stages.some((s) => runs(s).some((r) => /npm run build\b/.test(r)))) problems.push("no stage runs npm run build");
  if (runs(final).some((r) => /\bnpm (ci|install)\b/.test(r))) problems.push("the final stage installs packages itself");

  // what runs is in the image: every workspace's manifest and compiled entry, profiles, suites
  const need = WORKSPACES.flatMap((w) => [`/app/${w}/package.json`, `/app/${w}/dist/src/index.js`]);
  need.push("/app/device-profiles/profiles/esp32-virtual.yaml", "/app/test-suites/suites/esp32-smoke.yaml");
  if (kind === "server") need.push("/app/dashboard/dist/web");
  if (entrypoint[0] !== "node" || !entrypoint[1]) problems.push(`ENTRYPOINT ${JSON.stringify(entrypoint)} does not run a script with node`);
  else {
    need.push(entrypoint[1]);
    // the bin script loads the compiled CLI relative to itself
    const bin = providedBy(stages, final.name, entrypoint[1], ignored);
    const target = bin ? /new URL\("([^"]+)", import\.meta\.url\)/.exec(read(bin))?.[1] : undefined;
    if (target) need.push(join(entrypoint[1], "..", target));
  }
  // scripts the image writes (the `hil` wrapper on the PATH) run files that must be there too
  for (const r of runs(final)) for (const m of r.matchAll(/exec node (\/\S+)/g)) need.push(m[1] ?? "");
  for (const path of need) if (!providedBy(stages, final.name, path, ignored)) problems.push(`${kind} image lacks ${path}`);

  problems.push(...checkHilArgs(cmd, `${kind} CMD`));
  problems.push(...checkEnv(env, cmd[0] ?? "", `${kind} ENV`));
  const user = final.instructions.filter((i) => i.keyword === "USER").at(-1)?.args;
  if (!user || user === "root" || user === "0") problems.push(`${kind} image runs as root`);

  if (kind === "server") {
    const config = loadSchedulerConfig({ ...env, HIL_ADMIN_TOKEN: DOTENV.HIL_ADMIN_TOKEN });
    const exposed = final.instructions.filter((i) => i.keyword === "EXPOSE").map((i) => Number(i.args));
    if (!exposed.includes(config.port)) problems.push(`server EXPOSE ${exposed.join(",")} is not the scheduler's port ${config.port}`);
    if (config.host !== "0.0.0.0") problems.push(`the scheduler binds ${config.host} in the container`);
    const health = final.instructions.find((i) => i.keyword === "HEALTHCHECK")?.args ?? "";
    const url = /http:\/\/127\.0\.0\.1:(\d+)(\/[\w/.-]*)/.exec(health);
    const publicGets = [...read("scheduler/src/api/route-policy.ts").matchAll(/\{ method: "GET", path: "([^"]+)", allow: "public" \}/g)].map((m) => m[1]);
    if (!url || Number(url[1]) !== config.port || !publicGets.includes(url[2])) problems.push(`server HEALTHCHECK "${health}" is not a public GET route on port ${config.port}`);
  } else {
    const installs = runs(final).flatMap((r) => [...r.matchAll(/apt-get install ([^&]+)/g)].flatMap((m) => (m[1] ?? "").split(/\s+/).filter((w) => w && !w.startsWith("-"))));
    // every system program `npm run lab` needs on a bench (scripts/sysdeps.mjs), Redis aside
    const labPkgs = [...read("scripts/sysdeps.mjs").matchAll(/pkg: "([\w-]+)",[^\n]*for: \[[^\]]*"lab"/g)].map((m) => m[1]).filter((p) => p !== "redis-server");
    for (const pkg of new Set(["adb", "fastboot", ...labPkgs])) if (!installs.includes(pkg ?? "")) problems.push(`agent image does not install ${pkg}`);
    const groups = runs(final).some((r) => new RegExp(`(usermod|useradd)\\b[^&]*--groups dialout,plugdev\\b[^&]*\\b${user}\\b`).test(r));
    if (!groups) problems.push(`agent user ${user} is not put in dialout and plugdev`);
    for (const [file, re] of [["lab-agent/src/drivers/android/adb-server.ts", /const ADB = "([^"]+)"/], ["lab-agent/src/drivers/android/adb-client.ts", /fastbootPath \?\? "([^"]+)"/]] as const) {
      const path = re.exec(read(file))?.[1];
      if (!path?.startsWith("/usr/bin/")) problems.push(`${file} looks for its tool at ${path}, not where Debian installs it`);
    }
  }
  return problems;
}

/** As compose does it: the YAML first, then `${…}` in every string of it. */
function interpolateAll(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === "string") return interpolate(value, env);
  if (Array.isArray(value)) return value.map((v) => interpolateAll(v, env));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateAll(v, env)]));
  return value;
}

interface Service {
  build?: { context: string; dockerfile: string };
  image?: string;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
}

/** Everything wrong with the compose file. */
function checkCompose(text: string): string[] {
  const problems: string[] = [];
  const vars = composeVariables(text);
  // every variable is in docker/.env.example: the required ones set, the others at least as a comment
  const example = read("docker/.env.example");
  const set = new Set([...example.matchAll(/^([A-Z_]+)=/gm)].map((m) => m[1]));
  const mentioned = new Set([...example.matchAll(/^(?:# )?([A-Z_]+)=/gm)].map((m) => m[1]));
  for (const v of vars) {
    if (new RegExp(`\\$\\{${v}:\\?`).test(text) && !set.has(v)) problems.push(`compose requires ${v}, which docker/.env.example does not set`);
    if (!mentioned.has(v)) problems.push(`compose reads ${v}, which docker/.env.example does not mention`);
  }
  const doc = interpolateAll(parseYaml(text), DOTENV) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
  const services = doc.services ?? {};
  const declared = new Set(Object.keys(doc.volumes ?? {}));
  const redis = services["redis"];
  const redisCmd = (redis?.command ?? []).join(" ");
  if (!/appendonly yes/.test(redisCmd) || !/requirepass/.test(redisCmd)) problems.push("redis runs without AOF or without a password");
  if (!/maxmemory-policy noeviction/.test(redisCmd)) problems.push("redis may evict keys (BullMQ needs noeviction)");
  if (!redis?.volumes?.some((v) => /^[\w-]+:\/data$/.test(v))) problems.push("redis keeps /data in no named volume");
  if (!redis?.healthcheck?.test.join(" ").includes("redis-cli ping")) problems.push("redis has no ping health check");

  const images = new Map<string, Image>();
  const agentsIn = (profile: string) =>
    Object.entries(services).filter(([, s]) => (s.profiles ?? []).every((p) => p === profile) && s.command?.[0] === "agent" && s.command.includes("--virtual"));
  if (agentsIn("demo").length === 0) problems.push("the demo profile adds no agent with --virtual boards");
  if ((services["server"]?.profiles ?? []).length > 0) problems.push("the server is in a profile; it should always run");

  for (const [name, s] of Object.entries(services)) {
    const where = `service ${name}`;
    for (const v of s.volumes ?? []) {
      const vol = /^([\w-]+):/.exec(v)?.[1];
      if (vol && !declared.has(vol)) problems.push(`${where}: volume ${vol} is not declared`);
    }
    for (const [dep, d] of Object.entries(s.depends_on ?? {})) {
      if (!services[dep]) problems.push(`${where}: depends on unknown service ${dep}`);
      if (dep === "redis" && d.condition !== "service_healthy") problems.push(`${where}: starts before redis is healthy`);
    }
    if (!s.build) continue;
    if (join(ROOT, "docker", s.build.context) !== ROOT) problems.push(`${where}: build context ${s.build.context} is not the repository root`);
    let image = images.get(s.build.dockerfile);
    try {
      image ??= imageOf(read(s.build.dockerfile));
    } catch {
      problems.push(`${where}: no Dockerfile ${s.build.dockerfile}`);
      continue;
    }
    images.set(s.build.dockerfile, image);
    const env = s.environment ?? {};
    if (s.entrypoint) {
      // a shell script: every hil command in it, with the client's environment
      const script = (s.command ?? []).join("\n");
      const calls = [...script.matchAll(/\bhil ([^\n>|;&]+)/g)].map((m) => (m[1] ?? "").trim().split(/\s+/));
      if (calls.length === 0) problems.push(`${where}: runs no hil command`);
      for (const args of calls) problems.push(...checkHilArgs(args, where));
      problems.push(...checkEnv(env, "client", where));
      continue;
    }
    const command = s.command ?? image.cmd;
    problems.push(...checkHilArgs(command, where), ...checkEnv(env, command[0] ?? "", where));
    if (["scheduler", "agent"].includes(command[0] ?? "") && name !== "server" && !s.profiles?.length) problems.push(`${where}: not in a profile`);
    if (command[0] === "agent" && !s.depends_on?.["redis"] && s.profiles?.includes("demo")) problems.push(`${where}: the demo agent does not wait for redis`);
    if (command[0] !== "scheduler") continue;
    // the scheduler as the container runs it: the image's environment, then the service's
    const config = loadSchedulerConfig({ ...image.env, ...env });
    const published = (s.ports ?? []).map((p) => Number(p.split(":").at(-1)));
    if (!published.includes(config.port)) problems.push(`${where}: publishes ${published.join(",")}, the scheduler listens on ${config.port}`);
    const redisUrl = new URL(config.redisUrl);
    if (!services[redisUrl.hostname] || redisUrl.port !== "6379" || redisUrl.password !== DOTENV.REDIS_PASSWORD) problems.push(`${where}: REDIS_URL ${redisUrl.host} is not the redis service with its password`);
    const mounts = (s.volumes ?? []).map((v) => v.split(":")[1] ?? "");
    if (!mounts.some((m) => config.artifactDir === m || config.artifactDir.startsWith(`${m}/`))) problems.push(`${where}: artifacts (${config.artifactDir}) are in no volume`);
    if (!s.depends_on?.["redis"]) problems.push(`${where}: does not wait for redis`);
  }
  for (const v of declared) if (!Object.values(services).some((s) => s.volumes?.some((m) => m.startsWith(`${v}:`)))) problems.push(`volume ${v} is declared but unused`);
  return problems;
}

test("the server and agent Dockerfiles match the repository", () => {
  assert.equal(checkDockerfile(read(SERVER), "server"), []);
  assert.equal(checkDockerfile(read(AGENT), "agent"), []);
});

test("compose.yaml matches the Dockerfiles and the code's configuration", () => {
  assert.equal(checkCompose(read(COMPOSE)), []);
});

test("a renamed COPY source, a missing build output or a wrong --from is caught", () => {
  const server = read(SERVER);
  assert.ok(checkDockerfile(server.replace("COPY cli/bin cli/bin", "COPY cli/binaries cli/bin"), "server").some((p) => p.includes("cli/binaries")));
  assert.ok(checkDockerfile(server.replace("/src/scheduler/dist/src", "/src/scheduler/dist/lib"), "server").some((p) => p.includes("scheduler/dist/lib")));
  assert.ok(checkDockerfile(server.replace("COPY --from=build /src/cli/dist/src", "COPY --from=nowhere /src/cli/dist/src"), "server").some((p) => p.includes("--from=nowhere")));
  assert.ok(checkDockerfile(server.replace("COPY --from=build /src/dashboard/dist/web dashboard/dist/web\n", ""), "server").some((p) => p.includes("dashboard/dist/web")));
  assert.ok(checkDockerfile(server.replace("--omit=dev ", ""), "server").some((p) => p.includes("--omit=dev")));
  assert.ok(checkDockerfile(server.replace("exec node /app/cli/bin/hil.js", "exec node /app/cli/hil.js"), "server").some((p) => p.includes("/app/cli/hil.js")));
  const ignore = read(".dockerignore");
  assert.ok(checkDockerfile(server, "server", `${ignore}\ntest-suites/suites\n`).some((p) => p.includes("test-suites/suites")));
  assert.ok(checkDockerfile(server, "server", `${ignore}\n**/*.mjs\n`).some((p) => p.includes("dashboard/dist/web")), "the bundle's build script left out of the context");
});

test("a wrong port, health route, unread variable, missing tool or root user is caught", () => {
  const server = read(SERVER);
  assert.ok(checkDockerfile(server.replace("EXPOSE 8080", "EXPOSE 8081"), "server").some((p) => p.includes("EXPOSE")));
  assert.ok(checkDockerfile(server.replace("/healthz", "/health"), "server").some((p) => p.includes("HEALTHCHECK")));
  assert.ok(checkDockerfile(server.replace("HIL_PORT=8080", "HIL_LISTEN_PORT=8080"), "server").some((p) => p.includes("HIL_LISTEN_PORT")));
  const agent = read(AGENT);
  assert.ok(checkDockerfile(agent.replace(" fastboot ", " "), "agent").some((p) => p.includes("fastboot")));
  assert.ok(checkDockerfile(agent.replace("USER node", "USER root"), "agent").some((p) => p.includes("root")));
  assert.ok(checkDockerfile(agent.replace("dialout,plugdev", "dialout"), "agent").some((p) => p.includes("plugdev")));
});

test("a compose service with an unread variable, a wrong flag, a wrong port or an unhealthy start is caught", () => {
  const compose = read(COMPOSE);
  assert.ok(checkCompose(compose.replace("HIL_AGENT_NAME: demo-1", "HIL_AGENT: demo-1")).some((p) => p.includes("HIL_AGENT,")));
  assert.ok(checkCompose(compose.replace('"--no-discover"', '"--no-discovery"')).some((p) => p.includes("--no-discovery")));
  assert.ok(checkCompose(compose.replace("127.0.0.1:8080}:8080", "127.0.0.1:8080}:8081")).some((p) => p.includes("publishes")));
  assert.ok(checkCompose(compose.replace("condition: service_healthy", "condition: service_started")).some((p) => p.includes("before redis is healthy")));
  assert.ok(checkCompose(compose.replace("tokens create --role agent", "tokens make --role agent")).some((p) => p.includes("demo-token")));
  assert.ok(checkCompose(compose.replace("--appendonly yes", "").replace("appendonly yes", "")).some((p) => p.includes("AOF")));
  assert.ok(checkCompose(compose.replace("dockerfile: docker/agent.Dockerfile", "dockerfile: docker/agents.Dockerfile")).some((p) => p.includes("agents.Dockerfile")));
  assert.ok(checkCompose(compose.replace("${HIL_PUBLISH:-", "${HIL_PUBLISH_AT:-")).some((p) => p.includes("HIL_PUBLISH_AT")));
});

test.run();
