export { freePort } from "./free-port.js";
export { redisHealth, type RedisHealth } from "./redis-info.js";
export { startPrivateRedis, stopChild, type PrivateRedis, type PrivateRedisOptions } from "./redis-server.js";
