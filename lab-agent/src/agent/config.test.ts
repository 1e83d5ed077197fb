// The agent's one configuration: flags over environment over defaults, every bad value named.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makeTempDir } from "@hil/test-kit";
import { AgentConfigError, defaultCacheDir, loadAgentConfig, parseAgentConfig } from "./config.js";

const ENV = { REDIS_URL: "redis://127.0.0.1:6390", HIL_AGENT_NAME: "bench-env" };

function errorOf(fn: () => unknown): AgentConfigError {
  try {
    fn();
  } catch (err) {
    assert.instance(err, AgentConfigError);
    return err as AgentConfigError;
  }
  throw new Error("expected an AgentConfigError");
}

test("the environment alone is a whole configuration, defaults filled in", () => {
  const config = loadAgentConfig({}, { ...ENV, HIL_NAMESPACE: "ns1", HIL_TOKEN: "agent-token-env", HIL_REDIS_ACL: "off", HIL_METRICS_LISTEN: "9464" });
  assert.is(config.redisUrl, "redis://127.0.0.1:6390");
  assert.is(config.name, "bench-env");
  assert.is(config.namespace, "ns1");
  assert.is(config.token, "agent-token-env");
  assert.is(config.redisAcl, "off");
  assert.equal(config.metricsListen, { host: "127.0.0.1", port: 9464 });
  assert.is(config.heartbeatMs, 2000);
  assert.is(config.cacheDir, join(tmpdir(), "hil-agent-cache-bench-env"));
  assert.ok(Object.isFrozen(config));
});

test("a flag wins over its variable; an unset or empty variable leaves the default", () => {
  const config = loadAgentConfig(
    { redisUrl: "redis://127.0.0.1:6391", name: "bench-flag", namespace: "ns-flag", metricsListen: "127.0.0.1:9470", cacheDir: "/var/cache/hil-x" },
    { ...ENV, HIL_NAMESPACE: "ns-env", HIL_METRICS_LISTEN: "9464", HIL_REDIS_ACL: "" },
  );
  assert.is(config.redisUrl, "redis://127.0.0.1:6391");
  assert.is(config.name, "bench-flag");
  assert.is(config.namespace, "ns-flag");
  assert.equal(config.metricsListen, { host: "127.0.0.1", port: 9470 });
  assert.is(config.redisAcl, "auto");
  assert.is(config.cacheDir, "/var/cache/hil-x");
  assert.is(loadAgentConfig({}, ENV).namespace, "hil");
  assert.is(loadAgentConfig({}, ENV).metricsListen, undefined);
});

test("secrets come from files: flag files over variables, first line trimmed", async () => {
  const tmp = await makeTempDir("hil-agent-config-");
  try {
    const urlFile = join(tmp.dir, "redis-url");
    const tokenFile = join(tmp.dir, "token");
    const envTokenFile = join(tmp.dir, "env-token");
    writeFileSync(urlFile, "redis://hil-agent:pw@127.0.0.1:6392\nignored\n");
    writeFileSync(tokenFile, "  agent-token-flag  \n");
    writeFileSync(envTokenFile, "agent-token-env-file\n");
    const fromFlags = loadAgentConfig({ redisUrlFile: urlFile, tokenFile }, { ...ENV, HIL_TOKEN: "agent-token-env" });
    assert.is(fromFlags.redisUrl, "redis://hil-agent:pw@127.0.0.1:6392");
    assert.is(fromFlags.token, "agent-token-flag");
    const fromEnv = loadAgentConfig({}, { HIL_AGENT_NAME: "a1", REDIS_URL_FILE: urlFile, HIL_TOKEN_FILE: envTokenFile });
    assert.is(fromEnv.redisUrl, "redis://hil-agent:pw@127.0.0.1:6392");
    assert.is(fromEnv.token, "agent-token-env-file");
    const missing = join(tmp.dir, "nope");
    assert.match(errorOf(() => loadAgentConfig({ tokenFile: missing }, ENV)).message, `cannot read the agent's token from ${missing}`);
    writeFileSync(tokenFile, "\n");
    assert.match(errorOf(() => loadAgentConfig({ tokenFile }, ENV)).message, `${tokenFile} is empty`);
  } finally {
    await tmp.remove();
  }
});

test("a missing name or Redis URL says which flag or variable gives it", () => {
  assert.match(errorOf(() => loadAgentConfig({}, { REDIS_URL: ENV.REDIS_URL })).message, /--name \(or set HIL_AGENT_NAME/);
  assert.match(errorOf(() => loadAgentConfig({ name: "a1" }, {})).message, /--redis URL \(or set REDIS_URL \/ REDIS_URL_FILE\)/);
});

test("a bad value is named with the variable it came from, every problem at once", () => {
  const message = errorOf(() => loadAgentConfig({ heartbeatMs: "soon" }, { ...ENV, HIL_REDIS_ACL: "maybe", HIL_METRICS_LISTEN: "here:port" })).message;
  assert.match(message, /redisAcl \(HIL_REDIS_ACL\): auto or off/);
  assert.match(message, /metricsListen \(HIL_METRICS_LISTEN\): "here:port" is not host:port/);
  assert.match(message, /heartbeatMs: "soon" is not a positive duration/);
  assert.match(errorOf(() => loadAgentConfig({}, { ...ENV, HIL_AGENT_NAME: "Bench 1" })).message, /name \(HIL_AGENT_NAME\): lowercase letters/);
  // the same value from a flag is named without a variable
  assert.match(errorOf(() => loadAgentConfig({ metricsListen: "here:port" }, ENV)).message, /\n {2}metricsListen: "here:port"/);
});

test("Android devices on the network: --adb-connect over HIL_ADB_CONNECT (comma-separated); a bad address names the field and its source", () => {
  assert.equal(loadAgentConfig({}, ENV).adbConnect, []);
  assert.equal(loadAgentConfig({}, { ...ENV, HIL_ADB_CONNECT: "192.168.1.40:5555, phone.lab:5556" }).adbConnect, ["192.168.1.40:5555", "phone.lab:5556"]);
  assert.equal(loadAgentConfig({ adbConnect: ["[fe80::1]:5555"] }, { ...ENV, HIL_ADB_CONNECT: "192.168.1.40:5555" }).adbConnect, ["[fe80::1]:5555"]);
  assert.match(errorOf(() => loadAgentConfig({}, { ...ENV, HIL_ADB_CONNECT: "192.168.1.40" })).message, /adbConnect\.0 \(HIL_ADB_CONNECT\): host:port of an Android device/);
  assert.match(errorOf(() => loadAgentConfig({ adbConnect: ["ok.lab:5555", "no port"] }, ENV)).message, /\n {2}adbConnect\.1: host:port/);
});

test("one cache-dir default, whichever way the config is made", () => {
  assert.is(parseAgentConfig({ redisUrl: ENV.REDIS_URL, name: "a2" }).cacheDir, defaultCacheDir("a2"));
  assert.is(loadAgentConfig({ name: "a2" }, ENV).cacheDir, defaultCacheDir("a2"));
});

test.run();
