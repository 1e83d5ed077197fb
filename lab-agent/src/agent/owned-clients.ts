import type { RedisClient } from "@hil/lab-protocol/redis";

type Connect = () => Promise<void>;

/**
 * Every Redis client an agent opens, and every copy a library makes of one. BullMQ's worker duplicates the
 * connection it is given for its blocking reads and closes that copy itself, but only when its own close gets
 * that far: a stop that gave up on a Redis that was gone left the copy reconnecting for ever. `endAll` ends
 * them all, whatever state their owners left them in, and none of them connects again.
 */
export class OwnedClients {
  private readonly clients = new Set<RedisClient>();
  private ended = false;

  /** Owns `client` and, from now on, whatever `client.duplicate()` returns. */
  add<T extends RedisClient>(client: T): T {
    this.clients.add(client);
    const duplicate = client.duplicate.bind(client) as (...args: unknown[]) => RedisClient;
    (client as { duplicate: (...args: unknown[]) => RedisClient }).duplicate = (...args) => this.add(duplicate(...args));
    // ioredis reconnects through this.connect(), and so does BullMQ when it resumes a connection it paused
    const connect = client.connect.bind(client) as Connect;
    (client as { connect: Connect }).connect = () => (this.ended ? Promise.reject(new Error("the agent has stopped: its Redis clients stay closed")) : connect());
    if (this.ended) client.disconnect();
    return client;
  }

  get size(): number {
    return this.clients.size;
  }

  /** Disconnects every client: none reconnects afterwards, and a copy made later is closed at once. */
  endAll(): void {
    this.ended = true;
    for (const client of this.clients) if (client.status !== "end") client.disconnect();
  }
}
