// A scoped CI token end to end, as an admin hands it out: `hil tokens create --role ci --profiles
// esp32-virtual` gives a token that runs on a virtual board through `hil run`, and is refused for
// another profile, for someone else's booking and for quarantine. Revoked, it stops at once.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildEsp32Image } from "@hil/lab-agent";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ADMIN_TOKEN, CI_TOKEN, startLab, type Lab } from "./lab-fixture.js";

let lab: Lab;

test.before(async () => {
  lab = await startLab();
  await lab.startAgent("tk", ["--virtual", "esp32=1"]);
});
test.after(async () => {
  await lab?.stop();
});

test("hil tokens create --role ci --profiles esp32-virtual: runs there, 403 elsewhere, revocable", async () => {
  const create = lab.hil(["tokens", "create", "--role", "ci", "--name", "gitlab-virtual", "--profiles", "esp32-virtual"], ADMIN_TOKEN);
  assert.is(await create.exited, 0, create.output());
  const token = /^(hil_\S+)$/m.exec(create.output())?.[1];
  assert.ok(token, create.output());
  const tokenFile = join(lab.dir, "ci.token");
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });

  const app = join(lab.dir, "scoped.bin");
  await writeFile(app, buildEsp32Image({ appDesc: { projectName: "scoped", version: "1.0.0" }, scenario: { kind: "console" } }));
  const run = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "2m", "--wait", "--token-file", tokenFile], "unused");
  assert.is(await run.exited, 0, run.output());

  const other = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-devkitc", "--artifact", `app=${app}`], token);
  assert.is(await other.exited, 64, other.output());
  assert.match(other.output(), /gitlab-virtual may run only on profiles esp32-virtual; asked profile esp32-devkitc/);

  const board = (await lab.api<{ boards: { id: string }[] }>("GET", "/api/v1/boards")).body.boards[0]?.id ?? "";
  const booked = lab.hil(["book", "--board", board, "--for", "10m"], ADMIN_TOKEN);
  assert.is(await booked.exited, 0, booked.output());
  const bookingId = /\b(bk-[a-z0-9-]+)/.exec(booked.output())?.[1] ?? "";
  const release = lab.hil(["release", bookingId], token);
  assert.is(await release.exited, 64, release.output());
  assert.match(release.output(), /belongs to admin/, `${booked.output()}\n${release.output()}`);
  const quarantine = lab.hil(["quarantine", board, "--reason", "not yours"], token);
  assert.is(await quarantine.exited, 64, quarantine.output());
  assert.match(quarantine.output(), /role ci.*needs role admin/);
  assert.is((await lab.api("POST", `/api/v1/bookings/${bookingId}/release`)).status, 200);

  const list = lab.hil(["tokens", "list"], ADMIN_TOKEN);
  assert.is(await list.exited, 0, list.output());
  const id = /^(\w{16})\s+gitlab-virtual\s+ci\s+esp32-virtual\s+active/m.exec(list.output())?.[1];
  assert.ok(id, list.output());
  const revoke = lab.hil(["tokens", "revoke", id], ADMIN_TOKEN);
  assert.is(await revoke.exited, 0, revoke.output());
  const after = lab.hil(["boards"], token);
  assert.is(await after.exited, 64, after.output());
  assert.match(after.output(), /revoked/);

  // an admin clearing a live agent's board owner does not take the board out of service for good:
  // the agent's next announcement claims it again and runs go on
  const released = lab.hil(["release-owner", board], ADMIN_TOKEN);
  assert.is(await released.exited, 0, released.output());
  const again = lab.hil(["run", "--suite", "esp32-smoke", "--profile", "esp32-virtual", "--artifact", `app=${app}`, "--timeout", "2m", "--wait"], CI_TOKEN);
  setTimeout(() => void again.stop(), 120_000).unref();
  assert.is(await again.exited, 0, again.output());

  const audit = lab.hil(["audit", "--action", "token.revoke"], ADMIN_TOKEN);
  assert.is(await audit.exited, 0, audit.output());
  assert.match(audit.output(), new RegExp(`admin\\s+admin\\s+token\\.revoke\\s+${id}`));
});

test.run();
