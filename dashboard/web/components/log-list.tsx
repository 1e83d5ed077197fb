// A run's log, for logs of any length: only the rows in view are in the page. It opens on the tail
// (the live room's last lines) and loads earlier pages from the API when scrolled to the top.
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { RoomLine } from "@hil/dashboard";
import { get } from "../api.js";
import { useApp } from "../app-context.js";

const ROW = 18;
const PAGE = 2000;

/** What stands out in a run's log: an ESP32 panic or abort, a failed Unity case or assertion, a Java test failure. */
export function lineClass(text: string): string | undefined {
  if (/Guru Meditation Error|abort\(\) was called|panic'ed|^Backtrace:|assert(ion)? failed|Rebooting\.\.\.$|FATAL EXCEPTION|Fatal signal/.test(text)) return "panic";
  if (/:FAIL(:|$)|^FAIL\b|FAILURES!!!|INSTRUMENTATION_STATUS_CODE: -2/.test(text)) return "fail";
  return undefined;
}

// colours are a terminal's business; in this list a line is plain text
const ESC = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

interface Page {
  lines: RoomLine[];
  before?: string;
}

export function LogList({ runId, focusSeq, live: isLive }: { runId: string; focusSeq: number | undefined; live: boolean }) {
  const { live, notify } = useApp();
  const [lines, setLines] = useState<RoomLine[]>([]);
  const [earlier, setEarlier] = useState<string | undefined | null>(undefined); // undefined: unknown; null: none
  const [loadingEarlier, setLoadingEarlier] = useState(false);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(480);
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const prepended = useRef(0);
  const linesRef = useRef<RoomLine[]>([]);
  linesRef.current = lines;

  useEffect(() => {
    setLines([]);
    setEarlier(undefined);
    const sub = live.follow("run", runId, { tail: 1000 }, (batch) => {
      setLines((old) => old.concat(batch));
    });
    return () => sub.close();
  }, [runId]);

  const loadEarlier = async (until?: (l: RoomLine[]) => boolean) => {
    const first = linesRef.current[0];
    if (!first || loadingEarlier || earlier === null) return;
    setLoadingEarlier(true);
    try {
      let cursor: string | undefined = first.cursor;
      let added: RoomLine[] = [];
      for (let i = 0; i < 50 && cursor; i++) {
        const page: Page = await get<Page>(`/api/v1/runs/${encodeURIComponent(runId)}/log?format=json&before=${encodeURIComponent(cursor)}&limit=${PAGE}`);
        added = page.lines.concat(added);
        cursor = page.before && page.lines.length > 0 ? page.lines[0]!.cursor : undefined;
        if (!page.before || page.lines.length === 0) cursor = undefined;
        if (!until || until(added)) break;
      }
      prepended.current = added.length;
      setEarlier(cursor === undefined ? null : cursor);
      setLines((old) => added.concat(old));
    } catch (err) {
      notify(`earlier lines: ${err instanceof Error ? err.message : String(err)}`, "error");
    } finally {
      setLoadingEarlier(false);
    }
  };

  // keep the view where it was when earlier lines are put in front; follow the tail when at the bottom
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (prepended.current) {
      el.scrollTop += prepended.current * ROW;
      prepended.current = 0;
    } else if (stick.current) el.scrollTop = el.scrollHeight;
    setTop(el.scrollTop);
    setHeight(el.clientHeight);
  }, [lines]);

  // a link to a case: scroll to its first line, loading earlier pages until it is there
  const [focused, setFocused] = useState<number | undefined>(undefined);
  useEffect(() => {
    if (focusSeq === undefined || lines.length === 0) return;
    const i = lines.findIndex((l) => l.line.seq === focusSeq);
    if (i >= 0) {
      if (focused === focusSeq) return;
      setFocused(focusSeq);
      stick.current = false;
      const el = box.current!;
      el.scrollTop = Math.max(0, i * ROW - el.clientHeight / 3);
      setTop(el.scrollTop);
    } else if (lines[0]!.line.seq > focusSeq && earlier !== null && !loadingEarlier) {
      void loadEarlier((added) => added.length > 0 && added[0]!.line.seq <= focusSeq);
    }
  }, [focusSeq, lines, earlier]);

  // where the failures and panics are among the loaded lines, for the toolbar's shortcuts
  const marked = useMemo(() => {
    const out: { index: number; kind: string }[] = [];
    lines.forEach((l, index) => {
      const kind = lineClass(l.line.text.replace(ESC, ""));
      if (kind) out.push({ index, kind });
    });
    return out;
  }, [lines]);
  const jumpTo = (index: number) => {
    const el = box.current;
    const l = lines[index];
    if (!el || !l) return;
    stick.current = false;
    setFocused(l.line.seq);
    el.scrollTop = Math.max(0, index * ROW - el.clientHeight / 3);
    setTop(el.scrollTop);
    el.focus();
  };
  const firstFailure = marked[0];
  const firstPanic = marked.find((m) => m.kind === "panic");

  const first = Math.max(0, Math.floor(top / ROW) - 20);
  const last = Math.min(lines.length, Math.ceil((top + height) / ROW) + 20);
  const rows = [];
  for (let i = first; i < last; i++) {
    const l = lines[i]!;
    const text = l.line.text.replace(ESC, "");
    const cls = lineClass(text);
    rows.push(
      <div
        key={l.cursor}
        class={`row${cls ? ` ${cls}` : ""}${l.line.seq === focused ? " focused" : ""}${l.line.stream === "agent" ? " agent" : ""}`}
        style={{ top: `${i * ROW}px` }}
        data-seq={l.line.seq}
      >
        <span class="seq">{l.line.seq}</span>
        {text}
      </div>,
    );
  }
  return (
    <div class="log-list-box">
      <div class="toolbar">
        <span class="muted small" data-testid="run-log-count">
          {lines.length} lines{earlier === null ? "" : " (the latest; earlier ones load as you scroll up)"}
          {isLive ? " · live" : ""}
        </span>
        {firstFailure && (
          <button type="button" onClick={() => jumpTo(firstFailure.index)}>
            First failure ({marked.length} marked)
          </button>
        )}
        {firstPanic && (
          <button type="button" onClick={() => jumpTo(firstPanic.index)}>
            First panic
          </button>
        )}
        {earlier !== null && lines.length > 0 && (
          <button type="button" disabled={loadingEarlier} onClick={() => loadEarlier()}>
            {loadingEarlier ? "Loading…" : "Load earlier lines"}
          </button>
        )}
      </div>
      <div
        class="log-list"
        ref={box}
        tabIndex={0}
        role="log"
        aria-label="Run log"
        onScroll={(e) => {
          const el = e.currentTarget as HTMLDivElement;
          stick.current = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW;
          setTop(el.scrollTop);
          setHeight(el.clientHeight);
          if (el.scrollTop < ROW * 5 && earlier !== null && !loadingEarlier) void loadEarlier();
        }}
      >
        <div class="log-list-inner" style={{ height: `${lines.length * ROW}px` }}>
          {rows}
        </div>
        {lines.length === 0 && <p class="muted pad">No output yet. Lines appear here as the board prints them.</p>}
      </div>
    </div>
  );
}
