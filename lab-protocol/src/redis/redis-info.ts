import type { RedisClient } from "./redis-client.js";

export interface RedisHealth {
  reachable: boolean;
  version?: string;
  error?: string;
}

/** For /healthz: is Redis answering, and which version is it. */
export async function redisHealth(client: RedisClient, timeoutMs = 1000): Promise<RedisHealth> {
  try {
    const info = await Promise.race([
      client.info("server"),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs)),
    ]);
    const version = /redis_version:([^\r\n]+)/.exec(info)?.[1];
    return version === undefined ? { reachable: true } : { reachable: true, version };
  } catch (err) {
    return { reachable: false, error: (err as Error).message };
  }
}
