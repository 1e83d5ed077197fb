// Firmware scenarios through the real pieces: esptool-js writes an image carrying its scenario
// onto a VirtualEsp32 behind a PTY (socat), node serialport talks to the running app.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { waitUntil } from "@hil/test-kit";
import { buildEsp32Image, buildPartitionTable, SINGLE_APP_TABLE } from "../src/esp32-image/index.js";
import { SerialportLink } from "../src/links/serialport-link.js";
import { PtyExposure } from "../src/virtual/pty-exposure.js";
import { VirtualEsp32 } from "../src/virtual/esp32/virtual-esp32.js";
import type { ScenarioSpecInput } from "../src/virtual/esp32/firmware/index.js";
import { connectEsptool, flashImage } from "./virtual-esp32-esptool.js";

async function withFlashedBoard(scenario: ScenarioSpecInput, fn: (io: { link: SerialportLink; board: VirtualEsp32; text: () => string; mark: () => number }) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "hil-fw-pty-"));
  const path = join(dir, "esp32");
  const board = new VirtualEsp32({ id: "fw-pty" });
  const pty = new PtyExposure(board, path);
  const link = new SerialportLink({ path });
  try {
    await pty.start();
    await link.open();
    board.reset("download");
    const session = await connectEsptool(link, { mode: "no_reset", baudrate: 460800 });
    try {
      await flashImage(session, 0x8000, buildPartitionTable(SINGLE_APP_TABLE));
      await flashImage(session, 0x10000, buildEsp32Image({ appDesc: { projectName: "pty_app", version: "3.2.1" }, scenario }));
      await session.loader.after("no_reset_stub");
    } finally {
      await session.close();
    }
    if (!link.isOpen) await link.open();
    await link.setBaudRate(115200);
    let out = "";
    const sub = link.onData((d) => (out += Buffer.from(d).toString("latin1").replace(/\x1b\[[0-9;]*m/g, "")));
    try {
      board.reset("run");
      await waitUntil(`app_main of pty_app; got:\n${out}`, () => /App version: +3\.2\.1[\s\S]*main_task: Calling app_main\(\)/.test(out), 20_000);
      await fn({ link, board, text: () => out, mark: () => out.length });
    } finally {
      sub.dispose();
    }
  } finally {
    await link.close().catch(() => undefined);
    await pty.stop();
    board.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

const send = (link: SerialportLink, s: string) => link.write(new TextEncoder().encode(s));

test("console over a PTY: the REPL echoes and answers what is typed; restart reboots with SW_CPU_RESET", async () => {
  await withFlashedBoard({ kind: "console" }, async ({ link, text, mark }) => {
    await waitUntil(`the prompt; got:\n${text()}`, () => text().endsWith("esp32> "));
    let from = mark();
    await send(link, "echo over the pty\r\n");
    await waitUntil(`the echo; got:\n${text().slice(from)}`, () => /echo over the pty\r\nover the pty\r\nesp32> $/.test(text().slice(from)));
    from = mark();
    await send(link, "restart\r");
    await waitUntil(`a reboot; got:\n${text().slice(from)}`, () => /rst:0xc \(SW_CPU_RESET\),boot:0x13[\s\S]*Project name: +pty_app/.test(text().slice(from)));
  });
});

test("unity over a PTY: menu, then every case with pytest-embedded's summary", async () => {
  await withFlashedBoard({ kind: "unity" }, async ({ link, text, mark }) => {
    await waitUntil("the Unity prompt", () => text().includes("Press ENTER to see the list of tests."));
    let from = mark();
    await send(link, "\n");
    await waitUntil("the menu", () => text().slice(from).includes("Enter test for running."));
    assert.match(text().slice(from), '(5)\t"spi flash erase sector" [spi_flash]\r\n');
    from = mark();
    await send(link, "*\n");
    await waitUntil("the end of the run", () => text().slice(from).includes("Enter next test, or 'enter' to see menu"));
    const run = text().slice(from);
    assert.match(run, /^-+\s*5 Tests 2 Failures 0 Ignored\s*FAIL/m);
    assert.match(run, "main/test_wifi.c:57:wifi connects to access point:FAIL: Expected 0 Was 257\r\n");
  });
});

test.run();
