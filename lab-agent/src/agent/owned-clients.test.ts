// OwnedClients on a real redis-server: a copy made with duplicate() (as BullMQ makes one for its blocking
// reads) is owned too, and after endAll nothing reconnects: not a copy left retrying against a Redis that is
// gone, not a connect() called later, not a copy made afterwards.
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connectionsTo, startPrivateRedis, waitUntil } from "@hil/test-kit";
import { OwnedClients } from "./owned-clients.js";

test("endAll ends the clients and their copies, and none of them connects again", async () => {
  const server = await startPrivateRedis();
  const owned = new OwnedClients();
  const client = owned.add(new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 50 }).on("error", () => {}));
  const copy = client.duplicate().on("error", () => {});
  assert.is(owned.size, 2, "the copy is owned");
  assert.is(await copy.ping(), "PONG");
  const port = server.port;
  await server.stop();
  await waitUntil("the copy to be retrying", () => copy.status === "reconnecting" || copy.status === "connecting");

  owned.endAll();
  const refused = await copy.connect().then(
    () => "connected",
    (err: Error) => err.message,
  );
  assert.match(refused, /the agent has stopped/);
  copy.duplicate().on("error", () => {});
  assert.is(owned.size, 3, "a copy made after endAll is owned, and closed at once");

  // whatever listens on the port now would see a client that still retried
  const connections = await connectionsTo(port, 1000);
  // so that this file still ends when the assertion fails
  for (const c of [client, copy]) c.disconnect();
  assert.is(connections, 0, "nothing retried (each would have within 50 ms)");
});

test.run();
