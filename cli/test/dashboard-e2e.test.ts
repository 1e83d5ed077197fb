// The dashboard end to end, in Debian's Chromium (playwright-core) against a real lab: redis-server,
// `hil scheduler` serving the page, the API and the gateway on one port, and `hil agent` with two
// virtual ESP32 boards. People sign in with accounts; a run from `hil run` streams into its page; the
// holder of a booking flashes, types and resets from the board page; a viewer watches but cannot
// drive; a dropped connection and a gateway restart leave every line on the page exactly once.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildEsp32Image } from "@hil/lab-agent";
import type { Page } from "playwright-core";
import { io } from "socket.io-client";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { SCREENSHOT_DIR, startBrowser, type LabBrowser } from "./browser.js";
import { CI_TOKEN, startLab, TERMINAL, type Lab } from "./lab-fixture.js";

const AGENT = "db";
const FLASHED = `${AGENT}-vesp32-0`;
const UNITY_BOARD = `${AGENT}-vesp32-1`;
/** Never flashed: its ROM and bootloader print and reset for ever, a stream that never pauses. */
const LOOPING = `${AGENT}-vesp32-2`;
const APP = "dash_console_app";
const PASSWORD = "correct horse battery staple";

let lab: Lab;
let chrome: LabBrowser;
let qa: Page;
let viewer: Page;
const dialogs: string[] = [];
const pageErrors: string[] = [];

async function newPage(width = 1280, height = 800): Promise<Page> {
  const context = await chrome.browser.newContext({ viewport: { width, height } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: lab.url });
  const page = await context.newPage();
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on("pageerror", (e) => pageErrors.push(e.message));
  return page;
}

async function signIn(page: Page, name: string, password = PASSWORD): Promise<void> {
  await page.goto(lab.url);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
}

/** The rows of a board's serial view as the page's xterm holds them, and the sequence numbers it wrote. */
function terminal(page: Page, board: string): Promise<{ seqs: number[]; rows: string[] } | null> {
  return page.evaluate((b) => {
    const t = (globalThis as unknown as { hilTerminals?: Record<string, { seqs: number[]; rows(): string[] }> }).hilTerminals?.[b];
    return t ? { seqs: [...t.seqs], rows: t.rows() } : null;
  }, board);
}

function selection(page: Page, board: string): Promise<string> {
  return page.evaluate((b) => (globalThis as unknown as { hilTerminals?: Record<string, { selection(): string }> }).hilTerminals?.[b]?.selection() ?? "", board);
}

async function waitForRow(page: Page, board: string, re: RegExp, what: string, timeoutMs = 60_000): Promise<void> {
  await waitUntil(what, async () => (await terminal(page, board))?.rows.some((r) => re.test(r)), timeoutMs, 250);
}

/** Sequence numbers of a board's log in Redis, from `first` to `last`. */
async function storedSeqs(board: string, first: number, last: number): Promise<number[]> {
  const entries = await lab.redis.xrange(lab.keys.boardLog(board), `${first}-0`, `${last}-0`);
  return entries.map(([id]) => Number(id.split("-")[0]));
}

/** The page holds each line from its first to its last exactly once, in the order Redis has them. */
async function assertExactlyOnce(page: Page, board: string, why: string): Promise<number> {
  const t = await terminal(page, board);
  assert.ok(t && t.seqs.length > 0, `${why}: the page has lines`);
  const seqs = t!.seqs;
  const first = seqs[0]!;
  const last = seqs[seqs.length - 1]!;
  assert.equal(seqs, await storedSeqs(board, first, last), `${why}: lines ${first}..${last} on the page are the stored ones, once each, in order`);
  return seqs.length;
}

test.before(async () => {
  lab = await startLab({ schedulerEnv: { HIL_AUTH_FAIL_LIMIT: "1000", HIL_SUBMIT_LIMIT: "1000" } });
  await lab.startAgent(AGENT, ["--virtual", "esp32=3"]);
  for (const [name, role] of [["qa-ana", "qa"], ["viewer-vic", "viewer"]]) {
    const r = await lab.api("POST", "/api/v1/users", { name, role, password: PASSWORD });
    assert.is(r.status, 201, JSON.stringify(r.body));
  }
  chrome = await startBrowser();
  qa = await newPage();
  viewer = await newPage();
});

test.after(async () => {
  await chrome?.stop();
  await lab?.stop();
});

test("sign-in: a wrong password is refused on the page; the right one shows the boards, live", async () => {
  await signIn(qa, "qa-ana", "wrong password");
  await qa.getByRole("alert").filter({ hasText: "wrong name or password" }).waitFor();
  await signIn(qa, "qa-ana");
  await qa.locator(`tr[data-board="${FLASHED}"]`).waitFor();
  await qa.locator(`tr[data-board="${UNITY_BOARD}"]`).waitFor();
  assert.match((await qa.getByTestId("who").textContent()) ?? "", /qa-ana\s*qa/);
  await qa.getByText("live", { exact: true }).waitFor();
  // field:value search
  await qa.getByLabel("Search boards").fill(`state:idle agent:${AGENT} -board:${UNITY_BOARD}`);
  await qa.locator(`tr[data-board="${UNITY_BOARD}"]`).waitFor({ state: "detached" });
  assert.is(await qa.locator("table.boards tbody tr").count(), 2);
  await qa.getByLabel("Search boards").fill("");
  await shot(qa, "boards");
});

test("a run from `hil run` streams into its page live; the Unity failure and the panic are highlighted and linked to the log", async () => {
  const image = join(lab.dir, "unity.bin");
  const cases: { name: string; durationMs: number; outcome?: "fail" | "panic"; message?: string }[] = [
    { name: "gpio toggles output level", durationMs: 1200 },
    { name: "nvs stores and reads a blob", durationMs: 1200 },
    { name: "wifi connects to access point", outcome: "fail", message: "Expected 0 Was 257", durationMs: 1200 },
    { name: "adc reading within range", durationMs: 1200 },
    { name: "spi flash erase sector", outcome: "panic", message: "LoadProhibited", durationMs: 1200 },
  ];
  await writeFile(image, buildEsp32Image({ appDesc: { projectName: "unity_app", version: "1.0.0" }, scenario: { kind: "unity", cases } }));
  const sub = lab.hil(["run", "--suite", "esp32-unity", "--profile", "esp32-virtual", "--board", UNITY_BOARD, "--artifact", `test-app=${image}`], CI_TOKEN);
  assert.is(await sub.exited, 0, sub.output());
  const id = /run (\S+) submitted/.exec(sub.output())?.[1];
  assert.ok(id, sub.output());
  await qa.goto(`${lab.url}/#/runs/${id}`);
  // lines arrive while the run is still going
  await qa.locator(".log-list .row").first().waitFor({ timeout: 90_000 });
  const stateWhenSeen = (await lab.getRun(id!)).state;
  assert.not.ok(TERMINAL.has(stateWhenSeen), `the page showed lines while the run was ${stateWhenSeen}`);
  await waitUntil("the run ends", async () => TERMINAL.has((await lab.getRun(id!)).state), 120_000);
  await qa.locator("table.cases tr.outcome-fail").first().waitFor({ timeout: 30_000 });
  assert.is(await qa.locator("table.cases tr.outcome-fail").count(), 2, "the failed and the panicked case are marked");
  assert.is(await qa.locator("table.cases tr.panic").count(), 1, "the panicked case is marked as a panic");
  await shot(qa, "run");
  // each case links to its first log line: the link scrolls the log there and marks the line; the
  // failure and the panic are highlighted in the log
  for (const [row, mark, text] of [
    ['table.cases tr.outcome-fail:has-text("Expected 0 Was 257")', "fail", /:FAIL/],
    ["table.cases tr.panic", "panic", /Guru Meditation|abort\(\)|panic|Backtrace/],
  ] as const) {
    const link = qa.locator(`${row} a`).first();
    const seq = /seq=(\d+)/.exec((await link.getAttribute("href")) ?? "")?.[1];
    assert.ok(seq, `the ${mark} case links to a log line`);
    await link.click();
    await qa.locator(`.log-list .row.focused[data-seq="${seq}"]`).waitFor();
    await qa.locator(`.log-list .row.${mark}`).first().waitFor();
    assert.match((await qa.locator(`.log-list .row.${mark}`).first().textContent()) ?? "", text);
  }
  // and the log's own shortcut to the first failure
  await qa.getByRole("button", { name: /First failure/ }).click();
  await qa.locator(".log-list .row.fail.focused, .log-list .row.panic.focused").first().waitFor();
  // the step timeline shows each step's time against its limit
  assert.ok((await qa.locator("ol.timeline li.step").count()) >= 3);
  assert.match((await qa.locator("ol.timeline li.step").first().textContent()) ?? "", / \/ /);
  // runs list, filtered
  await qa.goto(`${lab.url}/#/runs?suite=esp32-unity`);
  await qa.locator(`tr[data-run="${id}"]`).waitFor();
  await qa.goto(`${lab.url}/#/runs?suite=esp32-smoke`);
  await qa.getByText("No run matches these filters").waitFor();
  await qa.goto(`${lab.url}/#/runs`);
  await qa.locator(`tr[data-run="${id}"]`).waitFor();
  await shot(qa, "runs");
});

test("the holder books a board, flashes an image with a progress bar, types into its console and resets it", async () => {
  await qa.goto(`${lab.url}/#/boards/${FLASHED}`);
  await qa.getByTestId("terminal").waitFor();
  await qa.getByRole("button", { name: "Book", exact: true }).click();
  await qa.getByTestId("holding").filter({ hasText: "held by you" }).waitFor();
  await qa.getByTestId("booking-watch").filter({ hasText: "You hold" }).waitFor();
  const image = join(lab.dir, "console.bin");
  await writeFile(image, buildEsp32Image({ appDesc: { projectName: APP, version: "2.7.1" }, scenario: { kind: "console" } }));
  await qa.locator('input[name="image"]').setInputFiles(image);
  await qa.getByRole("button", { name: "Flash", exact: true }).click();
  await qa.getByTestId("flash-progress").filter({ hasText: "flash finished" }).waitFor({ timeout: 90_000 });
  assert.is(await qa.locator('[data-testid="flash-progress"] progress').getAttribute("value"), "100");
  await waitForRow(qa, FLASHED, new RegExp(`Project name: +${APP}`), "the flashed app's boot");
  await waitForRow(qa, FLASHED, /esp32> ?$/, "the console prompt");
  await shot(qa, "board-holder");

  await qa.getByLabel("Console").fill("version");
  await qa.getByLabel("Console").press("Enter");
  await waitForRow(qa, FLASHED, new RegExp(`App: ${APP} 2\\.7\\.1`), "the board's answer to version");

  // raw keystrokes typed into the serial view itself
  await qa.getByLabel("Type in the serial view (raw keys)").check();
  await qa.getByTestId("terminal").click();
  await qa.keyboard.type("echo keys-from-xterm");
  await qa.keyboard.press("Enter");
  await waitForRow(qa, FLASHED, /^keys-from-xterm\s*$/, "the echo of raw keystrokes");
  await qa.getByLabel("Type in the serial view (raw keys)").uncheck();

  const before = (await terminal(qa, FLASHED))!.seqs.at(-1)!;
  await qa.getByRole("button", { name: "Reset", exact: true }).click();
  await waitUntil("the boot banner after the reset", async () => {
    const t = (await terminal(qa, FLASHED))!;
    const resetAt = t.rows.findIndex((r) => /reset into run mode by qa-ana/.test(r));
    return resetAt >= 0 && t.rows.slice(resetAt).some((r) => /^rst:0x/.test(r)) && t.seqs.at(-1)! > before;
  });
});

test("a run log of a million lines opens on its tail with only the rows in view in the page; earlier pages load on demand", async () => {
  // a run that waits (the board is booked by qa-ana), with a log written straight into its stream
  const sub = lab.hil(["run", "--suite", "esp32-smoke", "--board", FLASHED, "--artifact", `app=${join(lab.dir, "console.bin")}`], CI_TOKEN);
  assert.is(await sub.exited, 0, sub.output());
  const id = /run (\S+) submitted/.exec(sub.output())?.[1] ?? "";
  const key = lab.keys.runLog(id);
  const total = 1_000_000;
  for (let start = 1; start <= total; start += 20_000) {
    const pipe = lab.redis.pipeline();
    for (let seq = start; seq < start + 20_000 && seq <= total; seq++) {
      pipe.xadd(key, "*", "json", JSON.stringify({ board: "db-vesp32-x", run: id, seq, mono: seq, wall: 1_700_000_000_000 + seq, stream: "serial", text: `I (${seq}) app: line ${seq} of a long log` }));
    }
    await pipe.exec();
  }
  await qa.goto(`${lab.url}/#/runs/${id}`);
  await qa.getByTestId("run-log-count").filter({ hasText: /^1000 lines/ }).waitFor({ timeout: 60_000 });
  await qa.locator(`.log-list .row[data-seq="${total}"]`).waitFor();
  const rows = await qa.locator(".log-list .row").count();
  assert.ok(rows > 10 && rows < 200, `only the rows in view are in the page (${rows})`);
  // scrolled to the top, the page before loads, and the view stays on the line it showed
  await qa.locator(".log-list").evaluate((el) => {
    (el as unknown as { scrollTop: number }).scrollTop = 0;
  });
  await qa.getByTestId("run-log-count").filter({ hasText: /^3000 lines/ }).waitFor({ timeout: 60_000 });
  await qa.locator(`.log-list .row[data-seq="${total - 1000}"]`).waitFor();
  assert.ok((await qa.locator(".log-list .row").count()) < 200);
  await shot(qa, "run-million-lines");
  assert.is((await lab.api("POST", `/api/v1/runs/${id}/cancel`, undefined, CI_TOKEN)).status, 200);
  await lab.redis.del(key);
});

test("a viewer sees the same output but is offered no controls, and crafted events or calls drive nothing", async () => {
  await signIn(viewer, "viewer-vic");
  await viewer.locator(`tr[data-board="${FLASHED}"]`).waitFor();
  await viewer.goto(`${lab.url}/#/boards/${FLASHED}`);
  await waitForRow(viewer, FLASHED, new RegExp(`App: ${APP} 2\\.7\\.1`), "the holder's session, seen by the viewer");
  assert.is(await viewer.locator("#console-input").count(), 0, "no console input");
  assert.is(await viewer.getByRole("button", { name: "Reset", exact: true }).count(), 0, "no reset");
  assert.is(await viewer.getByRole("button", { name: "Book", exact: true }).count(), 0, "no booking for a viewer");
  await viewer.getByText("Only qa-ana, who holds this board").waitFor();
  await shot(viewer, "board-viewer");

  const token = await viewer.evaluate(() => (JSON.parse((globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem("hil.session") ?? "{}") as { token?: string }).token ?? "");
  assert.match(token, /^hil_/);
  // the viewer's own session, outside the page: REST says 403; the socket has no event that writes
  const typed = await lab.api("POST", `/api/v1/boards/${FLASHED}/console`, { text: "version", newline: true }, token);
  assert.is(typed.status, 403);
  const socket = io(lab.url, { auth: { token }, transports: ["websocket"] });
  try {
    await new Promise<void>((resolve, reject) => (socket.once("connect", resolve), socket.once("connect_error", reject)));
    const write = await socket.timeout(3000).emitWithAck("join" as never, { room: "board", id: FLASHED, write: true } as never).catch((e: Error) => ({ ok: false, error: e.message }));
    assert.equal((write as { ok: boolean }).ok, false, "a join asking for write access is refused");
    const mark = (await lab.redis.xrevrange(lab.keys.boardLog(FLASHED), "+", "-", "COUNT", 1))[0]?.[0] ?? "0-0";
    socket.emit("console" as never, { board: FLASHED, text: "version\r" } as never);
    socket.emit("input" as never, { board: FLASHED, data: "version\r" } as never);
    await new Promise((r) => setTimeout(r, 2000));
    const since = await lab.redis.xrange(lab.keys.boardLog(FLASHED), `(${mark}`, "+");
    assert.not.ok(since.some(([, f]) => /App: /.test(f[1] ?? "")), "the board never answered a crafted command");
    assert.ok(socket.connected, "unknown events are ignored, the socket stays");
  } finally {
    socket.disconnect();
  }
});

test("a board printing HTML shows it as text, everywhere", async () => {
  const payload = `<img src=x onerror=alert(1)><script>alert(2)</script><b>bold</b>`;
  await qa.goto(`${lab.url}/#/boards/${FLASHED}`);
  await waitForRow(qa, FLASHED, /esp32> ?$/, "the console prompt");
  await qa.getByLabel("Console").fill(`echo ${payload}`);
  await qa.getByLabel("Console").press("Enter");
  await waitForRow(qa, FLASHED, /^<img src=x onerror=alert\(1\)><script>alert\(2\)<\/script><b>bold<\/b>\s*$/, "the echoed HTML, as characters");
  await waitForRow(viewer, FLASHED, /<script>alert\(2\)<\/script>/, "the viewer's copy");
  // a booking note is user text too
  await qa.goto(`${lab.url}/#/bookings`);
  await qa.locator("form.book select").first().selectOption(UNITY_BOARD);
  await qa.getByLabel("Note").fill(payload);
  await qa.getByRole("button", { name: "Book", exact: true }).click();
  // the new booking's block carries the note in its title, as text
  await qa.locator(`.tl-block.mine[title*="<script>alert(2)</script>"]`).waitFor();
  await shot(qa, "bookings");
  for (const p of [qa, viewer]) {
    assert.is(await p.locator("main img, main b, main script").count(), 0, "no element was made from board output or notes");
  }
  assert.equal(dialogs, [], "no script ran");
});

test("a link to a line opens the board page scrolled to it and highlighted; selecting a line offers its link; search finds text", async () => {
  const answer = (await lab.redis.xrange(lab.keys.boardLog(FLASHED), "-", "+")).find(([, f]) => new RegExp(`App: ${APP} 2\\.7\\.1`).test(f[1] ?? ""));
  assert.ok(answer, "the answer to version is in the board's log");
  const seq = Number(answer![0].split("-")[0]);
  await viewer.goto(`${lab.url}/#/boards/${FLASHED}?line=${seq}`);
  await waitUntil("the linked line selected", async () => new RegExp(`App: ${APP} 2\\.7\\.1`).test(await selection(viewer, FLASHED)), 30_000, 250);
  await viewer.getByTestId("copy-line-link").filter({ hasText: `Link to line ${seq}` }).waitFor();

  // selecting a row with the mouse offers that row's link, which lands in the clipboard and the address
  await viewer.goto(`${lab.url}/#/boards/${FLASHED}`);
  await waitForRow(viewer, FLASHED, /esp32> ?$/, "the console prompt");
  await viewer.getByLabel("Find in the serial view").fill(`App: ${APP}`);
  await viewer.getByLabel("Find in the serial view").press("Enter");
  await waitUntil("a search hit selected", async () => (await selection(viewer, FLASHED)).includes(`App: ${APP}`), 30_000, 250);
  const button = viewer.getByTestId("copy-line-link");
  await button.waitFor();
  const offered = Number(/Link to line (\d+)/.exec((await button.textContent()) ?? "")?.[1]);
  assert.is(offered, seq, "the selected row is the line with that sequence number");
  await button.click();
  await viewer.waitForFunction((n) => (globalThis as unknown as { location: { hash: string } }).location.hash.includes(`line=${n}`), seq);
  const copied = await viewer.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
  assert.ok(copied.endsWith(`#/boards/${FLASHED}?line=${seq}`), copied);
});

test("bookings: a conflict is shown before booking, the last minutes are warned about, and a board taken back says why", async () => {
  await qa.goto(`${lab.url}/#/bookings`);
  await qa.locator("form.book select").first().selectOption(FLASHED);
  await qa.getByLabel("from").check();
  const later = new Date(Date.now() + 10 * 60_000 - new Date().getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  await qa.getByLabel("Start").fill(later);
  await qa.getByTestId("conflict").filter({ hasText: "qa-ana has" }).waitFor();
  assert.ok(await qa.getByRole("button", { name: "Book", exact: true }).isDisabled(), "booking into a conflict is not offered");

  // one board's timeline, from its page
  await qa.goto(`${lab.url}/#/boards/${FLASHED}`);
  await qa.getByRole("link", { name: "timeline" }).click();
  await qa.locator(".tl-row:not(.tl-axis)").first().waitFor();
  assert.is(await qa.locator(".tl-row:not(.tl-axis)").count(), 1);
  await qa.locator(".tl-block.state-active.mine").waitFor();

  const token = await qa.evaluate(() => (JSON.parse((globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem("hil.session") ?? "{}") as { token?: string }).token ?? "");
  const short = await lab.api<{ id: string }>("POST", "/api/v1/bookings", { board: LOOPING, duration: "3m" }, token);
  assert.is(short.status, 201, JSON.stringify(short.body));
  await qa.getByTestId("booking-watch").getByRole("alert").filter({ hasText: `You hold ${LOOPING}` }).filter({ hasText: "ends soon" }).waitFor();

  assert.is((await lab.api("POST", `/api/v1/boards/${LOOPING}/quarantine`, { reason: "USB hub resets" })).status, 200);
  await qa.getByTestId("booking-watch").filter({ hasText: `Your booking of ${LOOPING} ended early: taken back: the board was quarantined by admin` }).waitFor();
  await qa.goto(`${lab.url}/#/boards/${LOOPING}`);
  await qa.getByText("Set aside (quarantined): USB hub resets").waitFor();
  assert.is((await lab.api("POST", `/api/v1/boards/${LOOPING}/release-quarantine`)).status, 200);
});

test("after a dropped connection and after a gateway restart, the board page holds every line exactly once", async () => {
  await viewer.goto(`${lab.url}/#/boards/${LOOPING}`);
  await waitForRow(viewer, LOOPING, /^rst:0x/, "the blank board's boot loop");
  let count = await assertExactlyOnce(viewer, LOOPING, "before any fault");

  // paused, the view holds new lines back; resumed, it shows them, still once each
  await viewer.getByRole("button", { name: "Pause" }).click();
  await viewer.getByRole("button", { name: /Resume \((\d{2,}) held\)/ }).waitFor({ timeout: 60_000 });
  const frozen = (await terminal(viewer, LOOPING))!.seqs.length;
  await viewer.waitForTimeout(500);
  assert.is((await terminal(viewer, LOOPING))!.seqs.length, frozen, "nothing is written while paused");
  await viewer.getByRole("button", { name: /Resume/ }).click();
  count = await assertExactlyOnce(viewer, LOOPING, "after pause and resume");
  assert.ok(count > frozen);

  await viewer.evaluate(() => (globalThis as unknown as { hilLive: { dropConnection(): void } }).hilLive.dropConnection());
  await waitUntil("lines after the reconnect", async () => ((await terminal(viewer, LOOPING))?.seqs.length ?? 0) > count + 30, 60_000, 250);
  count = await assertExactlyOnce(viewer, LOOPING, "after a socket reconnect");

  // the gateway is served by the scheduler: restart it on the same port, mid-stream
  await lab.restartScheduler();
  await viewer.getByText("live", { exact: true }).waitFor({ timeout: 60_000 });
  await waitUntil("lines after the gateway restart", async () => ((await terminal(viewer, LOOPING))?.seqs.length ?? 0) > count + 30, 60_000, 250);
  await assertExactlyOnce(viewer, LOOPING, "after a gateway restart");
});

test("the pages fit a phone, work from the keyboard, and sign-out ends the session", async () => {
  const phone = await newPage(390, 844);
  await signIn(phone, "qa-ana");
  await phone.locator(`tr[data-board="${FLASHED}"]`).waitFor();
  for (const route of ["#/boards", `#/boards/${FLASHED}`, "#/runs", "#/bookings"]) {
    await phone.goto(`${lab.url}/${route}`);
    await phone.waitForTimeout(500);
    const overflow = await phone.evaluate(() => {
      const w = globalThis as unknown as { innerWidth: number; document: { documentElement: { scrollWidth: number } } };
      return w.document.documentElement.scrollWidth - w.innerWidth;
    });
    assert.ok(overflow <= 1, `${route} is ${overflow}px wider than the phone`);
  }
  await shot(phone, "board-phone");
  // keyboard: Tab reaches the main navigation, Enter follows it
  await phone.goto(`${lab.url}/#/boards`);
  await phone.locator("table.boards").waitFor();
  let reached = false;
  for (let i = 0; i < 10 && !reached; i++) {
    await phone.keyboard.press("Tab");
    reached = (await phone.evaluate(() => (globalThis as unknown as { document: { activeElement: { textContent: string | null } | null } }).document.activeElement?.textContent)) === "Runs";
  }
  assert.ok(reached, "Tab reaches the Runs link");
  await phone.keyboard.press("Enter");
  await phone.locator("h1", { hasText: "Runs" }).waitFor();

  const token = await phone.evaluate(() => (JSON.parse((globalThis as unknown as { localStorage: { getItem(k: string): string | null } }).localStorage.getItem("hil.session") ?? "{}") as { token?: string }).token ?? "");
  await phone.getByRole("button", { name: "Sign out" }).click();
  await phone.getByRole("button", { name: "Sign in" }).waitFor();
  assert.is((await lab.api("GET", "/api/v1/me", undefined, token)).status, 401, "the session is revoked, not only forgotten");
  assert.equal(pageErrors, [], "no uncaught error in any page");
});

test.run();
