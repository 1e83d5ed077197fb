import { createServer } from "node:net";

/** adb scans 5555–5585 on loopback; a port there would show up as an emulator. */
const ADB_SCAN_RANGE = { from: 5554, to: 5586 };

/** Asks the kernel for a free loopback port, skipping adb's scan range. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.once("error", reject);
      srv.listen(0, host, () => {
        const addr = srv.address();
        const p = typeof addr === "object" && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port < ADB_SCAN_RANGE.from || port > ADB_SCAN_RANGE.to) return port;
  }
  throw new Error("could not find a free port outside adb's scan range");
}
