// A board's serial output in xterm.js: bounded scroll-back, search, follow the tail only while the view
// is at the bottom, pause/resume, download the whole log, and links to a line by its sequence number.
import { useEffect, useRef, useState } from "preact/hooks";
import { Terminal, type IMarker } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import { SearchAddon } from "@xterm/addon-search";
import { WebLinksAddon } from "@xterm/addon-web-links";
import type { RoomLine } from "@hil/dashboard";
import { request, saveBlob } from "../api.js";
import { useApp } from "../app-context.js";
import { href } from "../router.js";

/** Rows kept in the view; the whole log stays downloadable. */
export const SCROLLBACK = 5000;
/** Lines held while paused; past this the oldest held lines are dropped from the view (not from the log). */
const HOLD_MAX = 20_000;

/**
 * Serial output is shown as a terminal shows it, colours included, but nothing a board prints may move
 * the cursor, clear the view or set titles: only SGR (colour) sequences pass, other escapes and control
 * characters (but tab) are removed. What a board prints is never HTML anywhere on the page.
 */
export function terminalText(text: string): string {
  return text
    .replace(/\x1b\[[0-9;]*m|\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])|[\x00-\x08\x0a-\x1f\x7f]/g, (m) => (/^\x1b\[[0-9;]*m$/.test(m) ? m : ""))
    .replace(/\x1b(?!\[[0-9;]*m)/g, "");
}

export interface TerminalDebug {
  /** Sequence numbers written into the view, in order (what a test compares). */
  seqs: number[];
  /** The view's rows as text. */
  rows(): string[];
  /** What is selected (a search hit, a linked line). */
  selection(): string;
}

declare global {
  interface Window {
    hilTerminals?: Record<string, TerminalDebug>;
  }
}

interface Mark {
  seq: number;
  marker: IMarker;
}

export interface LogTerminalProps {
  boardId: string;
  /** Scroll to and highlight this line (from a `?line=` link). */
  focusSeq?: number | undefined;
  /** Raw keystrokes typed into the view go here (the holder's console); absent: the view is read-only. */
  onKeys?: ((data: string) => void) | undefined;
  /** Every line as it arrives (the page reads the agent's flash progress from them). */
  onLine?: (line: RoomLine) => void;
}

export function LogTerminal({ boardId, focusSeq, onKeys, onLine }: LogTerminalProps) {
  const { live, notify } = useApp();
  const host = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | null>(null);
  const searchAddon = useRef<SearchAddon | null>(null);
  const marks = useRef<Mark[]>([]);
  const held = useRef<RoomLine[]>([]);
  const pausedRef = useRef(false);
  const keysRef = useRef(onKeys);
  const lineRef = useRef(onLine);
  keysRef.current = onKeys;
  lineRef.current = onLine;
  const [paused, setPaused] = useState(false);
  const [heldCount, setHeldCount] = useState(0);
  const [atBottom, setAtBottom] = useState(true);
  const [unseen, setUnseen] = useState(0);
  const [selectedSeq, setSelectedSeq] = useState<number | undefined>(undefined);
  const [lastSeq, setLastSeq] = useState<number | undefined>(undefined);
  const [query, setQuery] = useState("");
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const pendingFocus = useRef<number | undefined>(focusSeq);

  const seqAtRow = (row: number): number | undefined => {
    const list = marks.current;
    let lo = 0;
    let hi = list.length - 1;
    let found: number | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const m = list[mid]!;
      if (m.marker.isDisposed || m.marker.line < 0) {
        lo = mid + 1;
        continue;
      }
      if (m.marker.line <= row) {
        found = m.seq;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };

  const focus = (seq: number): boolean => {
    const t = term.current;
    const m = marks.current.find((x) => x.seq === seq && !x.marker.isDisposed);
    if (!t || !m) return false;
    const row = m.marker.line;
    t.scrollToLine(Math.max(0, row - Math.floor(t.rows / 3)));
    t.select(0, row, t.cols);
    setSelectedSeq(seq);
    return true;
  };

  useEffect(() => {
    const t = new Terminal({
      scrollback: SCROLLBACK,
      fontSize: 13,
      fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace",
      convertEol: false,
      disableStdin: false,
      cursorInactiveStyle: "none",
      screenReaderMode: false,
      theme: { background: "#0f1419", foreground: "#d8dee4", selectionBackground: "#8a6d1d" },
    });
    const fit = new FitAddon();
    const search = new SearchAddon();
    t.loadAddon(fit);
    t.loadAddon(search);
    t.loadAddon(new WebLinksAddon());
    t.open(host.current!);
    fit.fit();
    term.current = t;
    searchAddon.current = search;
    const debug: TerminalDebug = {
      seqs: [],
      rows() {
        const b = t.buffer.active;
        const out: string[] = [];
        for (let i = 0; i < b.length; i++) out.push(b.getLine(i)?.translateToString(true) ?? "");
        return out;
      },
      selection: () => t.getSelection(),
    };
    window.hilTerminals = { ...(window.hilTerminals ?? {}), [boardId]: debug };
    const resize = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        // hidden: nothing to fit
      }
    });
    resize.observe(host.current!);
    const bottom = () => t.buffer.active.viewportY >= t.buffer.active.baseY;
    const onScroll = t.onScroll(() => {
      const b = bottom();
      setAtBottom(b);
      if (b) setUnseen(0);
    });
    const onSel = t.onSelectionChange(() => {
      const pos = t.getSelectionPosition();
      setSelectedSeq(pos ? seqAtRow(pos.start.y) : undefined);
    });
    const onData = t.onData((d) => keysRef.current?.(d));

    const write = (lines: readonly RoomLine[]) => {
      for (const l of lines) {
        const seq = l.line.seq;
        // the cursor is where this line starts once everything before it is parsed: mark that row
        t.write("", () => {
          const marker = t.registerMarker(0);
          if (marker) {
            marks.current.push({ seq, marker });
            if (marks.current.length > SCROLLBACK * 2) marks.current = marks.current.filter((m) => !m.marker.isDisposed);
          }
          if (pendingFocus.current === seq) {
            pendingFocus.current = undefined;
            queueMicrotask(() => focus(seq));
          }
        });
        t.write(terminalText(l.line.text) + (l.line.partial ? "" : "\r\n"));
        debug.seqs.push(seq);
      }
      if (lines.length) setLastSeq(lines[lines.length - 1]!.line.seq);
      if (!bottom()) setUnseen((n) => n + lines.length);
    };
    const sub = live.follow(
      "board",
      boardId,
      focusSeq !== undefined && focusSeq > 1 ? { since: `${Math.max(1, focusSeq - 200)}-0` } : { tail: 2000 },
      (lines) => {
        setProblem(undefined);
        for (const l of lines) lineRef.current?.(l);
        if (pausedRef.current) {
          held.current.push(...lines);
          if (held.current.length > HOLD_MAX) held.current.splice(0, held.current.length - HOLD_MAX);
          setHeldCount(held.current.length);
        } else write(lines);
      },
      (err) => setProblem(err),
    );
    (t as unknown as { hilWrite: typeof write }).hilWrite = write;
    return () => {
      sub.close();
      resize.disconnect();
      onScroll.dispose();
      onSel.dispose();
      onData.dispose();
      t.dispose();
      term.current = null;
      marks.current = [];
      if (window.hilTerminals?.[boardId] === debug) delete window.hilTerminals[boardId];
    };
  }, [boardId]);

  useEffect(() => {
    if (focusSeq === undefined) return;
    if (!focus(focusSeq)) pendingFocus.current = focusSeq;
  }, [focusSeq]);

  const togglePause = () => {
    const t = term.current as (Terminal & { hilWrite?: (l: readonly RoomLine[]) => void }) | null;
    if (pausedRef.current) {
      pausedRef.current = false;
      const lines = held.current;
      held.current = [];
      setHeldCount(0);
      t?.hilWrite?.(lines);
    } else pausedRef.current = true;
    setPaused(pausedRef.current);
  };

  const download = async () => {
    try {
      const res = await request("GET", `/api/v1/boards/${encodeURIComponent(boardId)}/log`);
      const body = await res.text();
      const lines: string[] = [];
      for (const row of body.split("\n")) {
        if (!row.startsWith("data: ")) continue;
        try {
          const l = JSON.parse(row.slice(6)) as { seq: number; wall: number; text: string };
          lines.push(`${new Date(l.wall).toISOString()} #${l.seq} ${l.text}`);
        } catch {
          // a damaged entry: left out of the file
        }
      }
      saveBlob(new Blob([lines.join("\n") + "\n"], { type: "text/plain" }), `${boardId}.log`);
    } catch (err) {
      notify(`download failed: ${err instanceof Error ? err.message : String(err)}`, "error");
    }
  };

  const copyLink = async (seq: number) => {
    const url = `${location.origin}${location.pathname}${href(["boards", boardId], { line: String(seq) })}`;
    try {
      await navigator.clipboard.writeText(url);
      notify(`link to line ${seq} copied`);
    } catch {
      window.prompt("Copy this link to the line", url);
    }
    history.replaceState(null, "", href(["boards", boardId], { line: String(seq) }));
  };

  const find = (backwards: boolean) => {
    if (!query) return;
    const ok = backwards ? searchAddon.current?.findPrevious(query) : searchAddon.current?.findNext(query);
    if (!ok) notify(`"${query}" is not in the view; download the log to search all of it`);
  };

  return (
    <div class="terminal-box">
      <div class="toolbar" role="toolbar" aria-label="Serial view">
        <button type="button" onClick={togglePause} aria-pressed={paused}>
          {paused ? `Resume (${heldCount} held)` : "Pause"}
        </button>
        <form
          class="find"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            find(false);
          }}
        >
          <label class="sr-only" for={`find-${boardId}`}>
            Find in the serial view
          </label>
          <input id={`find-${boardId}`} type="search" placeholder="Find" value={query} onInput={(e) => setQuery((e.currentTarget as HTMLInputElement).value)} />
          <button type="button" onClick={() => find(true)} aria-label="Previous match">
            ↑
          </button>
          <button type="submit" aria-label="Next match">
            ↓
          </button>
        </form>
        <button type="button" onClick={download}>
          Download log
        </button>
        {selectedSeq !== undefined && (
          <button type="button" onClick={() => copyLink(selectedSeq)} data-testid="copy-line-link">
            Link to line {selectedSeq}
          </button>
        )}
        <span class="muted small" data-testid="last-seq">
          {lastSeq !== undefined ? `line ${lastSeq}` : "waiting for output…"}
        </span>
      </div>
      {problem && (
        <p class="error" role="alert">
          The serial view could not follow this board: {problem}
        </p>
      )}
      <div class={`terminal${onKeys ? " typing" : ""}`} ref={host} data-testid="terminal" aria-label={`Serial output of ${boardId}`} />
      {!atBottom && (
        <button type="button" class="jump" onClick={() => term.current?.scrollToBottom()}>
          ↓ Follow the tail{unseen ? ` (${unseen} new)` : ""}
        </button>
      )}
    </div>
  );
}
