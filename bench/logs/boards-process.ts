/**
 * The bench's boards, in a process of their own (so their CPU is not the agent's): N line boards, each a serial
 * device behind a real RFC 2217 server as a virtual ESP32 is, printing ESP-IDF-style lines that carry their print
 * time and a per-board counter, paced at M lines/s. For the bare-Redis reference the same pacing XADDs the same
 * lines straight to Redis instead (one connection per board, no lab code).
 *
 *   (forked by bench/logs.ts) boards-process.ts --boards N --prefix ID [--redis URL --bare-prefix P]
 */
import { parseArgs } from "node:util";
import { Rfc2217Server, type Disposable, type ModemLines, type SerialDevice } from "@hil/lab-agent";
import { Redis } from "ioredis";
import { formatCountedLine, formatProbeLine, wallNow, type BoardsReply, type BoardsRequest } from "./messages.js";

const PROBE_EVERY_MS = 100;
const TICK_MS = 1;
/** A tick this much later than asked for means the process waited for CPU. */
const LATE_TICK_MS = 10;

/** A board that only prints: what the host sends, its modem lines and baud rate change nothing. */
class LineBoard implements SerialDevice {
  private readonly listeners = new Set<(data: Uint8Array) => void>();

  constructor(readonly id: string) {}

  receive(_data: Uint8Array): void {}
  setSignals(_lines: ModemLines): void {}
  setBaudRate(_baud: number): void {}

  onTransmit(listener: (data: Uint8Array) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  print(text: string): void {
    const bytes = Buffer.from(text, "latin1");
    for (const l of this.listeners) l(bytes);
  }
}

const { values: args } = parseArgs({
  options: {
    boards: { type: "string", default: "1" },
    prefix: { type: "string", default: "logs-vb" },
    redis: { type: "string" },
    "bare-prefix": { type: "string", default: "bare" },
  },
});
const count = Number(args.boards);
const boards = Array.from({ length: count }, (_, i) => new LineBoard(`${args.prefix}-${i}`));
const servers = boards.map((b) => new Rfc2217Server(b, { port: 0 }));
const producers = args.redis === undefined ? [] : boards.map(() => new Redis(args.redis ?? "", { maxRetriesPerRequest: null }));
const bootAt = performance.now();

function send(msg: BoardsReply): void {
  process.send?.(msg);
}

let probeTimer: NodeJS.Timeout | undefined;
let tickTimer: NodeJS.Timeout | undefined;
let startTimer: NodeJS.Timeout | undefined;
let printed: number[] = [];
let pending: Promise<unknown>[] = [];
let lateTicks = 0;
let startedAt = 0;

function stopTimers(): void {
  for (const t of [probeTimer, tickTimer, startTimer]) if (t) clearInterval(t);
  probeTimer = tickTimer = startTimer = undefined;
}

function probe(): void {
  stopTimers();
  const once = () => {
    const text = formatProbeLine(performance.now() - bootAt);
    for (const b of boards) b.print(text);
  };
  once();
  probeTimer = setInterval(once, PROBE_EVERY_MS);
}

function start(at: number, rate: number, mode: "serial" | "redis"): void {
  stopTimers();
  printed = boards.map(() => 0);
  pending = boards.map(() => Promise.resolve());
  lateTicks = 0;
  let lastTick = 0;
  const tick = () => {
    const now = wallNow();
    if (now < at) return;
    if (startedAt === 0) startedAt = now;
    if (lastTick !== 0 && now - lastTick > LATE_TICK_MS) lateTicks++;
    lastTick = now;
    const due = Math.floor(((now - at) * rate) / 1000);
    const uptime = performance.now() - bootAt;
    for (let i = 0; i < boards.length; i++) {
      let n = printed[i] ?? 0;
      if (n >= due) continue;
      if (mode === "serial") {
        let text = "";
        while (n < due) text += formatCountedLine(uptime, now, ++n);
        boards[i]?.print(text);
      } else {
        const redis = producers[i];
        const key = `${args["bare-prefix"]}:${boards[i]?.id}`;
        let last: Promise<unknown> = Promise.resolve();
        while (n < due) last = redis?.xadd(key, "MAXLEN", "~", "20000", "*", "text", formatCountedLine(uptime, now, ++n).trimEnd()) ?? last;
        pending[i] = last;
      }
      printed[i] = n;
    }
  };
  startedAt = 0;
  tickTimer = setInterval(tick, TICK_MS);
}

async function stop(): Promise<void> {
  stopTimers();
  await Promise.allSettled(pending);
  const out: Record<string, number> = {};
  boards.forEach((b, i) => (out[b.id] = printed[i] ?? 0));
  send({ type: "stopped", printed: out, lateTicks, seconds: startedAt === 0 ? 0 : (wallNow() - startedAt) / 1000 });
}

process.on("message", (raw) => {
  const msg = raw as BoardsRequest;
  if (msg.type === "probe") probe();
  else if (msg.type === "start") {
    start(msg.at, msg.rate, msg.mode);
    send({ type: "started" });
  } else if (msg.type === "stop") void stop();
});

process.on("disconnect", () => {
  stopTimers();
  for (const p of producers) p.disconnect();
  void Promise.allSettled(servers.map((s) => s.close())).then(() => process.exit(0));
});

const listening = await Promise.all(servers.map((s) => s.listen()));
send({ type: "listening", boards: boards.map((b, i) => ({ id: b.id, url: listening[i]?.url ?? "" })) });
