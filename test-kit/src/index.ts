// @hil/test-kit: what every package's tests share. Production code never imports it; the private
// redis-server and free ports stay in @hil/lab-protocol/redis (the lab launcher uses them) and are
// re-exported here so a test has one place to import from.
export { freePort, startPrivateRedis, stopChild, type PrivateRedis, type PrivateRedisOptions } from "@hil/lab-protocol/redis";
export { REPO_ROOT, hilArgv, spawnHil, spawnTracked, pidAlive, type Spawned } from "./spawn.js";
export { makeTempDir, withTempDir, type TempDir } from "./temp-dir.js";
export { sleep, waitUntil } from "./wait.js";
export { connectionsTo } from "./connections.js";
