// rediss:// with the lab's TLS parameters on a real redis-server: a private CA and a client certificate made
// with openssl in a temp dir, the server on a free TLS-only port requiring client certificates, stopped by PID.
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { makeTempDir, spawnTracked, type Spawned } from "@hil/test-kit";
import { createRedisClient, freePort, type RedisClient } from "../src/redis/index.js";

const run = promisify(execFile);
let tmp: { dir: string; remove(): Promise<void> };
let server: Spawned | undefined;
let port = 0;
const file = (name: string) => join(tmp.dir, name);

async function openssl(args: string[]): Promise<void> {
  await run("openssl", args, { cwd: tmp.dir });
}

/** A certificate for `cn`, signed by the test CA; `ext` adds extensions (the server's IP SAN). */
async function signed(name: string, cn: string, ext?: string): Promise<void> {
  await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`]);
  if (ext) await writeFile(file(`${name}.ext`), ext);
  await openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "1", ...(ext ? ["-extfile", `${name}.ext`] : [])]);
}

/** PING over TLS with the given URL; the error message when the handshake or login fails. */
async function ping(url: string): Promise<string> {
  let client: RedisClient | undefined;
  let cause = "";
  try {
    client = createRedisClient(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000 });
    // the connect promise says only "Connection is closed."; the error event says why
    client.on("error", (e: Error) => (cause ||= e.message));
    await client.connect();
    return await client.ping();
  } catch (err) {
    return `error: ${(err as Error).message} ${cause}`;
  } finally {
    client?.disconnect();
  }
}

/** Makes the certificates and starts the server; the reason when this machine cannot (no openssl, no TLS build). */
async function setUp(): Promise<string | undefined> {
  try {
    await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=hil-test-ca"]);
  } catch (err) {
    return `openssl is not usable (${(err as Error).message.split("\n")[0]})`;
  }
  await signed("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\n");
  await signed("client", "hil-agent");
  port = await freePort();
  await writeFile(
    file("redis.conf"),
    [
      "port 0",
      `tls-port ${port}`,
      "bind 127.0.0.1",
      `dir "${tmp.dir}"`,
      'save ""',
      "appendonly no",
      `tls-cert-file "${file("server.pem")}"`,
      `tls-key-file "${file("server.key")}"`,
      `tls-ca-cert-file "${file("ca.pem")}"`,
      "tls-auth-clients yes",
      "",
    ].join("\n"),
  );
  const started = spawnTracked("redis-server", [file("redis.conf")]);
  server = started;
  const deadline = Date.now() + 20_000;
  const url = `rediss://127.0.0.1:${port}?tls_ca=${encodeURIComponent(file("ca.pem"))}&tls_cert=${encodeURIComponent(file("client.pem"))}&tls_key=${encodeURIComponent(file("client.key"))}`;
  while ((await ping(url)) !== "PONG") {
    if (started.child.exitCode !== null) return `this redis-server has no TLS: ${started.output().trim().split("\n").pop()}`;
    if (Date.now() > deadline) throw new Error(`redis-server with TLS did not answer within 20 s:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

tmp = await makeTempDir("hil-redis-tls-");
const stop = async () => {
  await server?.stop();
  await tmp.remove();
};
let skip: string | undefined;
try {
  skip = await setUp();
} catch (err) {
  await stop();
  throw err;
}

if (skip) {
  await stop();
  console.log(`[skip] ${skip}`);
} else {
  test.after(stop);

  test("rediss:// with tls_ca, tls_cert and tls_key reaches a server that checks both sides", async () => {
    const q = (p: string) => encodeURIComponent(file(p));
    assert.is(await ping(`rediss://127.0.0.1:${port}?tls_ca=${q("ca.pem")}&tls_cert=${q("client.pem")}&tls_key=${q("client.key")}`), "PONG");
    // the server's certificate is from a private CA: without tls_ca the client refuses it
    assert.match(await ping(`rediss://127.0.0.1:${port}?tls_cert=${q("client.pem")}&tls_key=${q("client.key")}`), /^error: .*(self[- ]signed|unable to verify|certificate)/i);
    // the server wants a client certificate: the CA alone is not enough
    assert.match(await ping(`rediss://127.0.0.1:${port}?tls_ca=${q("ca.pem")}`), /^error: /);
    // and plain redis:// to the TLS port gets nowhere
    assert.match(await ping(`redis://127.0.0.1:${port}`), /^error: /);
  });

  test.run();
}
