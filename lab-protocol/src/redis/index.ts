export { freePort } from "./free-port.js";
export { redisHealth, type RedisHealth } from "./redis-info.js";
export { startPrivateRedis, stopChild, type PrivateRedis, type PrivateRedisOptions } from "./redis-server.js";
export { createRedisClient, duplicateClient, everyNode, explainRedisError, isCluster, type RedisClient, type RedisClientOptions } from "./redis-client.js";
export { parseRedisUrl, redisUrlHasCredentials, redisUrlProblem, RedisUrlError, RedisUrlSchema, type RedisEndpoint, type RedisTarget, type RedisTlsFiles } from "./redis-url.js";
export { RedisClusterToolMissingError, startPrivateRedisCluster, type PrivateRedisCluster, type PrivateRedisClusterOptions } from "./redis-cluster.js";
