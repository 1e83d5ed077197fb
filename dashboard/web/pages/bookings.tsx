import { useEffect, useMemo, useState } from "preact/hooks";
import type { Board, Booking } from "@hil/contracts";
import { api, endpoints } from "../api.js";
import { useApp, useLiveData, useNow } from "../app-context.js";
import { Empty, Failed, Loading, StateBadge } from "../components/states.js";
import { clock, localInput, time } from "../format.js";
import { href, navigate } from "../router.js";

const HOUR = 3_600_000;
const SPAN = 24 * HOUR;
const DURATIONS = ["15m", "30m", "1h", "2h", "4h", "8h"];
const DURATION_MS: Record<string, number> = { "15m": HOUR / 4, "30m": HOUR / 2, "1h": HOUR, "2h": 2 * HOUR, "4h": 4 * HOUR, "8h": 8 * HOUR };

/** Why a booking ended, in words. */
export function endedBecause(b: Booking, me: string): string | undefined {
  if (b.state === "ended") return "expired";
  if (b.state !== "released") return undefined;
  if (b.endReason === "quarantined") return `taken back: the board was quarantined${b.releasedBy ? ` by ${b.releasedBy}` : ""}`;
  if (b.endReason === "released-by-admin") return `released by ${b.releasedBy ?? "an admin"}`;
  return b.releasedBy && b.releasedBy !== me ? `released by ${b.releasedBy}` : "released";
}

function overlaps(list: readonly Booking[], board: string, start: number, end: number): Booking | undefined {
  return list.find((b) => b.board === board && (b.state === "active" || b.state === "scheduled") && b.start < end && b.end > start);
}

export function BookForm({ board, compact, onBooked }: { board?: string; compact?: boolean; onBooked?: () => void }) {
  const { notify } = useApp();
  const boards = useLiveData(endpoints.boards, (k) => k === "board", []);
  const [target, setTarget] = useState(board ?? "");
  const [when, setWhen] = useState<"now" | "later">("now");
  const [startText, setStartText] = useState(() => localInput(Date.now() + HOUR));
  const [length, setLength] = useState("30m");
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const existing = useLiveData(
    () => (target ? endpoints.bookings(`board=${encodeURIComponent(target)}`) : Promise.resolve([] as Booking[])),
    (k) => k === "booking",
    [target],
  );
  useEffect(() => {
    if (!target && !board && boards.data?.length) setTarget(boards.data.find((b) => b.state === "idle")?.id ?? boards.data[0]!.id);
  }, [boards.data]);
  const start = when === "now" ? Date.now() : new Date(startText).getTime();
  const end = start + (DURATION_MS[length] ?? HOUR / 2);
  const conflict = target ? overlaps(existing.data ?? [], target, start, end) : undefined;
  const badStart = when === "later" && (!Number.isFinite(start) || start < Date.now() - 60_000);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!target || conflict || badStart) return;
    setBusy(true);
    try {
      const b = await api<Booking>("POST", "/api/v1/bookings", {
        board: target,
        ...(when === "later" ? { start } : {}),
        duration: length,
        ...(note.trim() ? { note: note.trim() } : {}),
      });
      notify(`booked ${b.board} from ${time(b.start)} to ${time(b.end)}`);
      setNote("");
      onBooked?.();
    } catch (err) {
      notify(`booking: ${err instanceof Error ? err.message : String(err)}`, "error");
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class={`book${compact ? " compact" : ""}`} onSubmit={submit} aria-label="Book a board">
      {!board && (
        <label>
          Board
          <select value={target} onChange={(e) => setTarget((e.currentTarget as HTMLSelectElement).value)} required>
            {(boards.data ?? []).map((b) => (
              <option key={b.id} value={b.id}>
                {b.id} ({b.profile}, {b.state === "leased" ? "running" : b.state})
              </option>
            ))}
          </select>
        </label>
      )}
      <fieldset class="when">
        <legend class="sr-only">When</legend>
        <label class="check">
          <input type="radio" name="when" checked={when === "now"} onChange={() => setWhen("now")} /> now
        </label>
        <label class="check">
          <input type="radio" name="when" checked={when === "later"} onChange={() => setWhen("later")} /> from
        </label>
        {when === "later" && (
          <input type="datetime-local" aria-label="Start" value={startText} onInput={(e) => setStartText((e.currentTarget as HTMLInputElement).value)} />
        )}
      </fieldset>
      <label>
        for
        <select value={length} onChange={(e) => setLength((e.currentTarget as HTMLSelectElement).value)}>
          {DURATIONS.map((d) => (
            <option key={d} value={d}>
              {d.replace("m", " min").replace("h", " h")}
            </option>
          ))}
        </select>
      </label>
      {!compact && (
        <label>
          Note
          <input value={note} maxLength={500} placeholder="what for (shown to others)" onInput={(e) => setNote((e.currentTarget as HTMLInputElement).value)} />
        </label>
      )}
      <button type="submit" class="primary" disabled={busy || !target || conflict !== undefined || badStart}>
        Book
      </button>
      {conflict && (
        <p class="error" role="status" data-testid="conflict">
          {conflict.holder} has {target} from {time(conflict.start)} to {time(conflict.end)}: pick a later start or another board.
        </p>
      )}
      {badStart && <p class="error">The start is in the past.</p>}
    </form>
  );
}

function Timeline({ boards, bookings, from, now, me }: { boards: Board[]; bookings: Booking[]; from: number; now: number; me: string }) {
  const pos = (t: number) => `${Math.max(0, Math.min(100, ((t - from) / SPAN) * 100))}%`;
  const hours = Array.from({ length: 25 }, (_, i) => from + i * HOUR).filter((_, i) => i % 3 === 0);
  return (
    <div class="timeline-grid" data-testid="booking-timeline" role="table" aria-label="Bookings per board over 24 hours">
      <div class="tl-row tl-axis" role="row">
        <span class="tl-label" role="columnheader">
          Board
        </span>
        <span class="tl-track" role="columnheader">
          {hours.map((h) => (
            <span key={h} class="tl-hour" style={{ left: pos(h) }}>
              {new Date(h).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}
            </span>
          ))}
        </span>
      </div>
      {boards.map((b) => (
        <div class="tl-row" role="row" key={b.id}>
          <span class="tl-label" role="rowheader">
            <a href={href(["boards", b.id])}>{b.id}</a>
          </span>
          <span class="tl-track" role="cell">
            {now >= from && now <= from + SPAN && <span class="tl-now" style={{ left: pos(now) }} title="now" />}
            {bookings
              .filter((k) => k.board === b.id && k.end > from && k.start < from + SPAN)
              .map((k) => {
                const why = endedBecause(k, me);
                const label = `${k.holder}${k.holderRole === "ci" ? " (CI)" : ""}: ${time(k.start)}–${time(k.end)}${k.note ? ` · ${k.note}` : ""}${why ? ` · ${why}` : ""}`;
                return (
                  <span
                    key={k.id}
                    class={`tl-block state-${k.state}${k.holderRole === "ci" ? " ci" : ""}${k.holder === me ? " mine" : ""}`}
                    style={{ left: pos(k.start), width: `calc(${pos(k.end)} - ${pos(k.start)})` }}
                    title={label}
                    aria-label={label}
                  >
                    {k.holderRole === "ci" ? "CI " : ""}
                    {k.holder}
                  </span>
                );
              })}
          </span>
        </div>
      ))}
    </div>
  );
}

export function BookingsPage({ query }: { query: URLSearchParams }) {
  const { me, can } = useApp();
  const now = useNow();
  const offset = Number(query.get("shift") ?? "0") || 0;
  const only = query.get("board") ?? undefined;
  const from = Math.floor((now - 2 * HOUR) / HOUR) * HOUR + offset * 12 * HOUR;
  const boards = useLiveData(endpoints.boards, (k) => k === "board", []);
  const all = useLiveData(() => endpoints.bookings(), (k) => k === "booking", []);
  const mine = useMemo(() => (all.data ?? []).filter((b) => b.holder === me.name).sort((a, b) => b.end - a.end).slice(0, 20), [all.data, me.name]);
  const act = (fn: () => Promise<unknown>) => () => void fn().then(all.reload, (err: unknown) => alert(err instanceof Error ? err.message : String(err)));

  if ((!boards.data && boards.loading) || (!all.data && all.loading)) return <Loading what="bookings" />;
  if (boards.error || all.error) return <Failed error={(boards.error ?? all.error)!} retry={() => (boards.reload(), all.reload())} />;
  return (
    <section>
      <div class="page-head">
        <h1>
          Bookings{only ? <> of <a href={href(["boards", only])}>{only}</a></> : ""}
        </h1>
        {only && (
          <a class="small" href={href(["bookings"])}>
            the whole lab
          </a>
        )}
        <nav class="row" aria-label="Time window">
          <button type="button" onClick={() => navigate(href(["bookings"], { board: only, shift: String(offset - 1) }))}>
            ← 12 h
          </button>
          <button type="button" onClick={() => navigate(href(["bookings"], { board: only }))} disabled={offset === 0}>
            Now
          </button>
          <button type="button" onClick={() => navigate(href(["bookings"], { board: only, shift: String(offset + 1) }))}>
            12 h →
          </button>
        </nav>
      </div>
      <p class="legend small">
        <span class="tl-block state-active">held now</span> <span class="tl-block state-scheduled">booked</span>{" "}
        <span class="tl-block ci state-scheduled">CI</span> <span class="tl-block state-released">released / ended</span>
      </p>
      {(boards.data ?? []).length === 0 ? (
        <Empty title="No boards to book">
          <p>Boards appear once an agent announces them.</p>
        </Empty>
      ) : (
        <Timeline boards={only ? boards.data!.filter((b) => b.id === only) : boards.data!} bookings={all.data ?? []} from={from} now={now} me={me.name} />
      )}
      {can("book") ? (
        <>
          <h2>Book a board</h2>
          <BookForm key={only ?? ""} {...(only ? { board: only } : {})} onBooked={all.reload} />
        </>
      ) : (
        <p class="muted">Your role ({me.role}) can see bookings but not make them.</p>
      )}
      <h2>Your bookings</h2>
      {mine.length === 0 ? (
        <p class="muted">You have no bookings.</p>
      ) : (
        <div class="table-wrap">
          <table data-testid="my-bookings">
            <thead>
              <tr>
                <th scope="col">Board</th>
                <th scope="col">From</th>
                <th scope="col">Until</th>
                <th scope="col">State</th>
                <th scope="col" />
              </tr>
            </thead>
            <tbody>
              {mine.map((b) => (
                <tr key={b.id}>
                  <td>
                    <a href={href(["boards", b.board])}>{b.board}</a>
                  </td>
                  <td>{time(b.start)}</td>
                  <td>
                    {time(b.end)}
                    {b.state === "active" && <span class={b.end - now < 5 * 60_000 ? "warn-text" : "muted"}> · {clock(b.end - now)} left</span>}
                  </td>
                  <td>
                    <StateBadge state={b.state} /> {endedBecause(b, me.name) ?? ""}
                  </td>
                  <td class="row">
                    {(b.state === "active" || b.state === "scheduled") && (
                      <>
                        <button type="button" onClick={act(() => api("POST", `/api/v1/bookings/${b.id}/extend`, { duration: "30m" }))}>
                          +30 min
                        </button>
                        <button type="button" onClick={act(() => api("POST", `/api/v1/bookings/${b.id}/release`))}>
                          Release
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
