// Runs in Chromium (bundled by esbuild with socket.io-client): one viewer of one board's live log, as a dashboard
// page would be. It shows the last lines (repainted at most 10 times a second) and keeps the same account as the
// bench's other receivers; latency is taken when a batch arrives, before any repaint.
import { io } from "socket.io-client";
import { LineTracker } from "./line-tracker.js";
import { wallNow, type MeasureWindow, type ReceiverReport } from "./messages.js";

const SHOWN_LINES = 200;
/** Repaints at most this often: a person reads no faster, and on the bench's 2 cores each repaint takes from the lab. */
const REPAINT_MS = 100;

export interface PageBench {
  joined: Promise<void>;
  ready(): boolean;
  measure(window: MeasureWindow): void;
  expect(printed: Record<string, number>): void;
  complete(): boolean;
  report(): ReceiverReport;
}

const params = new URLSearchParams(location.search);
const board = params.get("board") ?? "";
const tracker = new LineTracker("chromium", [board]);
const view = document.getElementById("log") as HTMLPreElement;
let shown: string[] = [];
let painting = false;

const socket = io(params.get("gateway") ?? "", { transports: ["websocket"], reconnection: false, auth: { token: params.get("token") ?? "" } });
socket.on("lines", (batch: { room: string; lines: { line: { text: string; wall: number } }[] }) => {
  const at = wallNow();
  for (const { line } of batch.lines) {
    tracker.onLine(board, line.text, at, line.wall);
    shown.push(line.text);
  }
  if (shown.length > 2 * SHOWN_LINES) shown = shown.slice(-SHOWN_LINES);
  if (!painting) {
    painting = true;
    setTimeout(() => {
      painting = false;
      view.textContent = shown.slice(-SHOWN_LINES).join("\n");
    }, REPAINT_MS);
  }
});

const joined = new Promise<void>((resolve, reject) => {
  socket.once("connect_error", (err: Error) => reject(err));
  socket.once("connect", () => {
    socket.emit("join", { room: "board", id: board, tail: 0 }, (res: { ok: boolean; error?: string }) => (res.ok ? resolve() : reject(new Error(res.error))));
  });
});

const bench: PageBench = {
  joined,
  ready: () => tracker.ready,
  measure: (w) => tracker.measure(w),
  expect: (p) => tracker.expect(p),
  complete: () => tracker.complete,
  report: () => tracker.report(),
};
(window as unknown as { bench: PageBench }).bench = bench;
