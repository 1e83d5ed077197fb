// `hil serial`: a booked virtual board as a local RFC 2217 port through the lab (WebSocket to the
// scheduler, relayed to the board's agent, RFC 2217 served on the board's open link). The real
// esptool-js (the lab's flash driver) and, when present, Espressif's esptool flash through it; the
// new app's boot comes back through the tunnel and lands in the board's log; nobody else gets the port.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LogLine } from "@hil/contracts";
import { buildEsp32Image, Esp32FlashDriver, Rfc2217Link } from "@hil/lab-agent";
import { REPO_ROOT, type Spawned, waitUntil } from "@hil/test-kit";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startLab, type Lab } from "./lab-fixture.js";

const BOARD = "sr-vesp32-0";
const ESPTOOL_DIR = process.env["HIL_ESPTOOL_DIR"] ?? join(REPO_ROOT, "..", "shared", "tools", "esptool");
let lab: Lab;
let holder = "";
let other = "";
let bookingId = "";
let tunnel: Spawned | undefined;
let port = 0;

test.before(async () => {
  lab = await startLab();
  await lab.startAgent("sr", ["--virtual", "esp32=1"]);
  const mint = async (name: string) => (await lab.api<{ token: string }>("POST", "/api/v1/tokens", { name, role: "qa" })).body.token;
  holder = await mint("qa-holder");
  other = await mint("qa-other");
  await waitUntil("the board", async () => (await lab.api<{ state: string }>("GET", `/api/v1/boards/${BOARD}`)).body.state === "idle");
});
test.after(async () => {
  await tunnel?.stop();
  await lab?.stop();
});

async function boardLog(): Promise<LogLine[]> {
  return (await lab.redis.xrange(lab.keys.boardLog(BOARD), "-", "+")).map(([, f]) => JSON.parse(f[1] ?? "{}") as LogLine);
}

test("nobody opens a board's port without holding it", async () => {
  const r = lab.hil(["serial", "--board", BOARD], holder);
  assert.is(await r.exited, 64, r.output());
  assert.match(r.output(), /no active booking/);
});

test("the holder's hil serial gives a local rfc2217:// port; esptool-js flashes through it and the new app boots, seen through the tunnel and in the board's log", async () => {
  const booking = await lab.api<{ id: string }>("POST", "/api/v1/bookings", { board: BOARD, duration: "30m" }, holder);
  assert.is(booking.status, 201);
  bookingId = booking.body.id;
  tunnel = lab.hil(["serial", "--board", BOARD, "--listen", "127.0.0.1:0"], holder);
  port = Number((await tunnel.waitFor(/on rfc2217:\/\/127\.0\.0\.1:(\d+)/, 60_000))[1]);

  const link = new Rfc2217Link({ host: "127.0.0.1", port, timeoutMs: 30_000 });
  const app = buildEsp32Image({ appDesc: { projectName: "through_tunnel", version: "1.2.3" }, scenario: { kind: "console" } });
  const driver = new Esp32FlashDriver({
    link,
    profile: { id: "esp32-virtual", chip: "esp32", serial: { baud: 115200, flashBaud: 460800 }, reset: { download: "D0|R1|W100|D1|R0|W50|D0", run: "D0|R1|W100|R0" }, flash: { size: 4 * 1024 * 1024, bootloaderOffset: 0x1000, appOffset: 0x10000 } },
  });
  let seen = "";
  link.onData((d) => (seen += Buffer.from(d).toString("latin1")));
  try {
    const report = await driver.flash([{ data: app, offset: 0x10000, name: "app" }], {});
    assert.is(report.images[0]?.skipped, false);
    await waitUntil("the new app's boot through the tunnel", async () => /Project name: +through_tunnel/.test(seen), 30_000);
  } finally {
    await link.close();
  }
  const log = await boardLog();
  assert.ok(log.some((l) => /^serial port opened by qa-holder through the lab/.test(l.text)), "the log says who opened it");
  assert.ok(log.some((l) => /Project name: +through_tunnel/.test(l.text)), "the board's log recorded the boot the tunnel carried");
  const audit = await lab.api<{ entries: { actor: string; action: string; target?: string }[] }>("GET", `/api/v1/audit?target=${BOARD}&limit=50`);
  assert.ok(audit.body.entries.some((e) => e.action === "board.serial" && e.actor === "qa-holder"));
});

test("Espressif's esptool writes and verifies through the tunnel (when esptool is here)", async () => {
  if (!existsSync(join(ESPTOOL_DIR, "esptool", "__init__.py"))) {
    console.log(`esptool not at ${ESPTOOL_DIR}: this part is not run`);
    return;
  }
  // the tunnel the previous client used closed; hil serial opened the next one ahead of this client
  await waitUntil("the next tunnel ready", async () => (await boardLog()).filter((l) => /^serial port opened by qa-holder/.test(l.text)).length >= 2, 30_000);
  const file = join(lab.dir, "esptool-app.bin");
  await writeFile(file, buildEsp32Image({ appDesc: { projectName: "esptool_tunnel", version: "9.9.9" }, scenario: { kind: "console" } }));
  const out = await new Promise<{ code: number; text: string }>((resolve) => {
    const p = spawn("/usr/bin/python3", ["-m", "esptool", "--port", `rfc2217://127.0.0.1:${port}`, "--baud", "115200", "write-flash", "0x10000", file], { env: { ...process.env, PYTHONPATH: ESPTOOL_DIR, NO_COLOR: "1" } });
    let text = "";
    p.stdout.on("data", (d) => (text += d));
    p.stderr.on("data", (d) => (text += d));
    p.on("close", (code) => resolve({ code: code ?? -1, text }));
  });
  assert.is(out.code, 0, out.text);
  assert.match(out.text, /Hash of data verified/);
  await waitUntil("the esptool-flashed app in the board's log", async () => (await boardLog()).some((l) => /Project name: +esptool_tunnel/.test(l.text)), 30_000);
});

test("one tunnel per board: while the holder's hil serial runs, the port is reserved; another user is refused with the holder's name, and so is the holder's second one", async () => {
  const second = lab.hil(["serial", "--board", BOARD], other);
  assert.is(await second.exited, 64, second.output());
  assert.match(second.output(), /held by qa-holder/);
  // no client is connected to the first one now: its tunnel waits, open, for the next client
  await waitUntil("the waiting tunnel", async () => (await lab.redis.exists(`${lab.keys.bullPrefix}:serial-tunnel:${BOARD}`)) === 1, 30_000);
  const again = lab.hil(["serial", "--board", BOARD, "--listen", "127.0.0.1:0"], holder);
  assert.is(await again.exited, 64, again.output());
  assert.match(again.output(), /open already \(by qa-holder\)/);
});

test("the tunnel closes when the booking ends", async () => {
  const link = new Rfc2217Link({ host: "127.0.0.1", port, timeoutMs: 30_000 });
  await link.open();
  let closed = false;
  link.onClose(() => (closed = true));
  await waitUntil("the tunnel open", async () => (await lab.redis.exists(`${lab.keys.bullPrefix}:serial-tunnel:${BOARD}`)) === 1, 30_000);
  assert.is((await lab.api("POST", `/api/v1/bookings/${bookingId}/release`, undefined, holder)).status, 200);
  await waitUntil("the tunnel closed", async () => closed, 30_000);
  assert.match(tunnel!.output(), /the booking of sr-vesp32-0 ended/);
  await link.close().catch(() => undefined);
});

test.run();
