// RedisAclSync against a real Redis: agent users follow the tokens, stale ones go, another lab
// namespace's users are left alone, and a scheduler user that may not manage ACLs does not stop it.
import { randomBytes } from "node:crypto";
import { agentRedisUser, labKeys } from "@hil/contracts";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { RedisAclSync, type RedisAclSyncDeps } from "../src/auth/redis-acl.js";
import { sha256Hex, TokenStore, type ConfigToken, type TokenRecord } from "../src/auth/token-store.js";
import { startPrivateRedis, type PrivateRedis } from "../src/redis/index.js";

let redis: PrivateRedis;
let admin: Redis;
const clients: Redis[] = [];

test.before(async () => {
  redis = await startPrivateRedis({ password: true });
  admin = new Redis(redis.url);
  clients.push(admin);
});
test.after(async () => {
  for (const c of clients) c.disconnect();
  await redis?.stop();
});

interface Logged {
  level: string;
  msg: string;
}

function makeSync(ns: string, configTokens: ConfigToken[], connection: Redis = admin): { sync: RedisAclSync; logged: Logged[] } {
  const logged: Logged[] = [];
  const log = (level: string) => (_obj: object, msg?: string) => void logged.push({ level, msg: msg ?? "" });
  const store = new TokenStore(connection, labKeys(ns), configTokens);
  const deps: RedisAclSyncDeps = {
    redis: connection,
    keys: labKeys(ns),
    namespace: ns,
    tokens: { configTokens: () => configTokens, onChange: () => () => {}, agentTokens: () => store.agentTokens() },
    log: { info: log("info"), warn: log("warn"), error: log("error") } as unknown as RedisAclSyncDeps["log"],
    mode: "auto",
  };
  return { sync: new RedisAclSync(deps), logged };
}

async function canLogIn(user: string, password: string): Promise<boolean> {
  const c = new Redis(redis.bareUrl, { username: user, password, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on("error", () => {});
  try {
    await c.connect();
    return (await c.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

const fresh = () => `t${randomBytes(4).toString("hex")}`;
const secret = () => randomBytes(18).toString("base64url");

test("only live agent tokens get a user: config tokens, stored ones, not expired, revoked or non-agent ones", async () => {
  const ns = fresh();
  const keys = labKeys(ns);
  const cfg = secret();
  const stored = secret();
  const expired = secret();
  const record = (id: string, name: string, token: string, extra: Partial<TokenRecord> = {}): string =>
    JSON.stringify({ id, name, role: "agent", kind: "token", hash: sha256Hex(token), scope: {}, createdAt: 1, createdBy: "admin", ...extra });
  await admin.hset(keys.tokens(), {
    a1: record("a1", "bench-2", stored),
    a2: record("a2", "bench-3", expired, { expiresAt: Date.now() - 1000 }),
    a3: record("a3", "bench-4", secret(), { revokedAt: 2, revokedBy: "admin" }),
    a4: record("a4", "gitlab", secret(), { role: "ci" }),
  });
  const { sync } = makeSync(ns, [{ name: "bench-1", role: "agent", token: cfg }, { name: "ci", role: "ci", token: secret() }]);
  await sync.sync();
  assert.is(sync.status, "active");
  const users = ((await admin.call("ACL", "USERS")) as string[]).filter((u) => u.startsWith(agentRedisUser(ns, "")));
  assert.equal(users.sort(), [agentRedisUser(ns, "bench-1"), agentRedisUser(ns, "bench-2")]);
  assert.ok(await canLogIn(agentRedisUser(ns, "bench-1"), cfg));
  assert.ok(await canLogIn(agentRedisUser(ns, "bench-2"), stored));
  assert.not.ok(await canLogIn(agentRedisUser(ns, "bench-2"), cfg), "one agent's token is not another's password");
  assert.not.ok(await canLogIn(agentRedisUser(ns, "bench-3"), expired));
  sync.stop();

  // bench-1 leaves the configuration: the next scheduler's reconcile removes its user
  const { sync: next } = makeSync(ns, []);
  await next.sync();
  assert.is(await admin.call("ACL", "GETUSER", agentRedisUser(ns, "bench-1")), null);
  assert.ok(await canLogIn(agentRedisUser(ns, "bench-2"), stored));
  next.stop();
});

test("rotation: revoking one of an agent's two tokens keeps the user for the other and ends the revoked one's sessions", async () => {
  const ns = fresh();
  const keys = labKeys(ns);
  const [oldToken, newToken] = [secret(), secret()];
  const rec = (id: string, token: string): TokenRecord => ({ id, name: "bench-5", role: "agent", kind: "token", hash: sha256Hex(token), scope: {}, createdAt: 1, createdBy: "admin" });
  await admin.hset(keys.tokens(), { r1: JSON.stringify(rec("r1", oldToken)), r2: JSON.stringify(rec("r2", newToken)) });
  const { sync } = makeSync(ns, []);
  await sync.sync();
  const user = agentRedisUser(ns, "bench-5");
  const session = new Redis(redis.bareUrl, { username: user, password: oldToken, maxRetriesPerRequest: 0, retryStrategy: () => null });
  session.on("error", () => {});
  clients.push(session);
  assert.is(await session.ping(), "PONG");

  const revoked = { ...rec("r1", oldToken), revokedAt: 2, revokedBy: "admin" };
  await admin.hset(keys.tokens(), "r1", JSON.stringify(revoked));
  await sync.agentTokenRevoked(revoked);
  await session.ping().then(
    () => assert.unreachable("the revoked token's session still works"),
    () => {},
  );
  assert.not.ok(await canLogIn(user, oldToken), "the revoked token no longer logs in");
  assert.ok(await canLogIn(user, newToken), "the other token still does");
  sync.stop();
});

test("a user of another namespace with the same name is neither taken over nor removed", async () => {
  const a = fresh();
  const b = `${a}-b`;
  // namespace b, agent "c" and namespace a, agent "b-c" both come out as hil-agent-<a>-b-c
  const theirs = secret();
  const { sync: other } = makeSync(b, [{ name: "c", role: "agent", token: theirs }]);
  await other.sync();
  const user = agentRedisUser(b, "c");
  assert.is(user, agentRedisUser(a, "b-c"));

  const { sync: ours, logged } = makeSync(a, [{ name: "b-c", role: "agent", token: secret() }]);
  await ours.sync();
  assert.ok(await canLogIn(user, theirs), "the other lab's agent still logs in");
  assert.ok(logged.some((l) => l.level === "error" && /another lab namespace/.test(l.msg)), "the clash is reported");

  const { sync: empty } = makeSync(a, []);
  await empty.sync();
  assert.ok(await canLogIn(user, theirs), "a reconcile of namespace a leaves it alone");
  for (const s of [other, ours, empty]) s.stop();
});

test("a scheduler user that may not manage ACL users is reported once and nothing breaks", async () => {
  const ns = fresh();
  const password = secret();
  await admin.call("ACL", "SETUSER", `plain-${ns}`, "reset", "on", `>${password}`, "~*", "+@all", "-@admin");
  const limited = new Redis(redis.bareUrl, { username: `plain-${ns}`, password });
  clients.push(limited);
  const { sync, logged } = makeSync(ns, [{ name: "bench-1", role: "agent", token: secret() }], limited);
  await sync.sync();
  await sync.sync();
  assert.is(sync.status, "denied");
  assert.is(logged.filter((l) => l.level === "error").length, 1, "logged once");
  assert.match(logged[0]?.msg ?? "", /HIL_REDIS_ACL=off/);
  sync.stop();
});

test.run();
