import { createServer } from "node:net";

/**
 * Listens on 127.0.0.1:`port` for `ms` and says how many connections came: after a client was told to stop,
 * anything still retrying a server that was there shows up here.
 */
export async function connectionsTo(port: number, ms: number): Promise<number> {
  let connections = 0;
  const listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.listen(port, "127.0.0.1", () => resolve());
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, ms));
  } finally {
    await new Promise((resolve) => listener.close(() => resolve(undefined)));
  }
  return connections;
}
