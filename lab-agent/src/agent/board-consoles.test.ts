// BoardConsoles over a fake board target and a real LogShipper on a private Redis: the idle
// console ships lines with run = null and continues the board's sequence, a job's hold closes it and
// its release reopens it, commands are refused while a job holds the board or when they are stale,
// and a hold waits for a command already running on the board (a flash is never cut by a job).
import { randomUUID } from "node:crypto";
import { labKeys, type AgentCommand, type LogLine } from "@hil/contracts";
import { Redis } from "ioredis";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Disposable } from "../links/serial-link.js";
import type { FlashImageFile, FlashOptions } from "../runner/board-target.js";
import { BoardConsoles, type ConsoleTarget } from "./board-consoles.js";
import { LogShipper } from "./log-shipper.js";
import { silentLogger } from "./logger.js";
import { startPrivateRedis, type PrivateRedis } from "@hil/test-kit";

/** A flash on a fake target waits for this after its first progress report. */
let flashGate: Promise<void> = Promise.resolve();
let server: PrivateRedis;
let redis: Redis;

test.before(async () => {
  server = await startPrivateRedis();
  redis = new Redis(server.url);
});
test.after(async () => {
  redis?.disconnect();
  await server?.stop();
});

/** A board target that records what was done to it; `print` plays the board writing a line. */
class FakeTarget implements ConsoleTarget {
  readonly written: string[] = [];
  readonly resets: string[] = [];
  closed = false;
  private readonly lineListeners = new Set<(l: LogLine) => void>();
  private seq: number;

  constructor(
    readonly boardId: string,
    startSeq: number,
  ) {
    this.seq = startSeq;
  }

  readonly console = {
    onLine: (listener: (l: LogLine) => void): Disposable => {
      this.lineListeners.add(listener);
      return { dispose: () => this.lineListeners.delete(listener) };
    },
  };
  readonly link = {
    write: async (data: Uint8Array) => void this.written.push(Buffer.from(data).toString("latin1")),
    onClose: (): Disposable => ({ dispose: () => undefined }),
    onData: (): Disposable => ({ dispose: () => undefined }),
    setSignals: async () => true,
    setBaudRate: async () => undefined,
  };

  print(text: string): void {
    const line: LogLine = { board: this.boardId, run: null, seq: this.seq++, mono: 1, wall: Date.now(), stream: "serial", text };
    for (const l of this.lineListeners) l(line);
  }
  async reset(mode: "run" | "download"): Promise<void> {
    this.resets.push(mode);
  }
  async flash(_images: FlashImageFile[], opts: FlashOptions): Promise<void> {
    opts.onProgress?.(50, 100);
    await flashGate;
    opts.onProgress?.(100, 100);
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

async function setup(extra: { powerCycle?: (boardId: string) => Promise<string> } = {}) {
  const keys = labKeys(`bc${randomUUID().slice(0, 8)}`);
  const shipper = new LogShipper(redis, keys);
  await shipper.init(["b1"]);
  const opened: FakeTarget[] = [];
  const consoles = new BoardConsoles({
    open: async (boardId, startSeq) => {
      const t = new FakeTarget(boardId, startSeq);
      opened.push(t);
      return t;
    },
    shipper,
    artifactFile: async (ref) => `/cache/${ref.sha256}`,
    logger: silentLogger,
    ...extra,
  });
  const log = async (): Promise<LogLine[]> => {
    await shipper.flush();
    return (await redis.xrange(keys.boardLog("b1"), "-", "+")).map(([, f]) => JSON.parse(f[1] ?? "{}") as LogLine);
  };
  return { consoles, opened, log };
}

const cmd = (c: Partial<AgentCommand> & Pick<AgentCommand, "type">): AgentCommand =>
  ({ id: randomUUID(), board: "b1", actor: "qa-bench", at: Date.now(), ...c }) as AgentCommand;

test("the idle console ships lines with run null; a job's hold closes it, its release reopens it after the job's lines", async () => {
  const { consoles, opened, log } = await setup();
  await consoles.start("b1");
  opened[0]?.print("ets Jun  8 2016 00:22:57");
  assert.equal((await log()).map((l) => [l.seq, l.run, l.text]), [[1, null, "ets Jun  8 2016 00:22:57"]]);

  await consoles.hold(["b1"]);
  assert.ok(opened[0]?.closed, "the job gets the link: the idle console is closed");
  assert.not.ok(consoles.isOpen("b1"));
  opened[0]?.print("printed after the hold");
  await consoles.execute(cmd({ type: "console", bytes: Buffer.from("help\r").toString("base64") }));
  await consoles.execute(cmd({ type: "reset", mode: "run" }));
  assert.is(opened.length, 1, "nothing reopened the board while the job holds it");
  const refused = (await log()).filter((l) => l.stream === "agent").map((l) => l.text);
  assert.equal(refused, [
    "console from qa-bench refused: a run holds the board; try again when it is idle",
    "reset from qa-bench refused: a run holds the board; try again when it is idle",
  ]);

  consoles.release(["b1"]);
  await consoles.execute(cmd({ type: "console", bytes: Buffer.from("\x03version\r").toString("base64") }));
  assert.is(opened.length, 2, "released: a fresh console");
  assert.equal(opened[1]?.written, ["\x03version\r"]);
  opened[1]?.print("esp32> ");
  const last = (await log()).at(-1);
  assert.equal([last?.seq, last?.text], [4, "esp32> "], "the reopened console continues the board's sequence");
  assert.not.ok((await log()).some((l) => l.text === "printed after the hold"));
});

test("a stale command is dropped; a hold waits for a flash already running, which closes and reopens the console", async () => {
  const { consoles, opened, log } = await setup();
  await consoles.start("b1");
  await consoles.execute(cmd({ type: "reset", mode: "download", at: Date.now() - 120_000 }));
  assert.equal(opened[0]?.resets, []);

  let finish!: () => void;
  flashGate = new Promise<void>((r) => (finish = r));
  const flashing = consoles.execute(cmd({ type: "flash", artifact: { sha256: "a".repeat(64), size: 100 }, offset: 0x10000 }));
  await new Promise((r) => setTimeout(r, 20));
  const flashTarget = opened[1];
  assert.ok(flashTarget, "the flash opened a fresh console");
  assert.ok(opened[0]?.closed, "the idle console was closed for the flash");
  let held = false;
  const hold = consoles.hold(["b1"]).then(() => (held = true));
  await new Promise((r) => setTimeout(r, 50));
  assert.not.ok(held, "a job waits while the flash runs");
  finish();
  await Promise.all([flashing, hold]);
  assert.ok(flashTarget.closed, "then the job gets the link");

  const notes = (await log()).filter((l) => l.stream === "agent").map((l) => l.text);
  assert.match(notes[0] ?? "", /^reset from qa-bench dropped: it waited 120 s/);
  assert.match(notes[1] ?? "", /^flash of aaaaaaaaaaaa \(100 bytes\) at 0x10000 by qa-bench/);
  assert.equal(notes.slice(2), ["console closed for the flash", "flash progress 50% (50 of 100 bytes)", "flash progress 100% (100 of 100 bytes)", "flash finished: 100 bytes at 0x10000; console open again"]);
});

test("the lab's power-cycle waits for the job that just ended, then ends with a line the scheduler reads", async () => {
  const cycled: string[] = [];
  const { consoles, opened, log } = await setup({ powerCycle: async (id) => (cycled.push(id), "virtual board power-cycled") });
  await consoles.start("b1");
  await consoles.hold(["b1"]);
  const id = randomUUID();
  const cycling = consoles.execute(cmd({ type: "power-cycle", id, actor: "lab:health" }));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(cycled, [], "not while the job holds the board");
  consoles.release(["b1"]);
  await cycling;
  assert.equal(cycled, ["b1"]);
  const notes = (await log()).filter((l) => l.stream === "agent").map((l) => l.text);
  assert.equal(notes, ["power-cycle by lab:health", `command ${id} (power-cycle) finished: virtual board power-cycled`]);
  assert.ok(opened[0]?.closed);
});

test("an agent that cannot switch a board's power says so; a person's power-cycle gets no closing line", async () => {
  const { consoles, log } = await setup();
  await consoles.start("b1");
  const id = randomUUID();
  await consoles.execute(cmd({ type: "power-cycle", id, actor: "lab:health" }));
  await consoles.execute(cmd({ type: "power-cycle" }));
  const notes = (await log()).filter((l) => l.stream === "agent").map((l) => l.text);
  assert.equal(notes, [
    "power-cycle from lab:health failed (STEP_UNSUPPORTED): this agent cannot switch board power (no USB hub port control)",
    `command ${id} (power-cycle) failed: (STEP_UNSUPPORTED) this agent cannot switch board power (no USB hub port control)`,
    "power-cycle from qa-bench failed (STEP_UNSUPPORTED): this agent cannot switch board power (no USB hub port control)",
  ]);
});

test.run();
