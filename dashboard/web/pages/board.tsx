import { useState } from "preact/hooks";
import type { Booking, Run } from "@hil/contracts";
import type { RoomLine } from "@hil/dashboard";
import { api, endpoints } from "../api.js";
import { useApp, useLiveData, useNow } from "../app-context.js";
import { HolderControls, useKeySender, type FlashProgress } from "../components/holder-controls.js";
import { Failed, Loading, StateBadge } from "../components/states.js";
import { LogTerminal } from "../components/terminal.js";
import { ago, clock, duration, time } from "../format.js";
import { href } from "../router.js";
import { shownState } from "./boards.js";
import { BookForm } from "./bookings.js";

function flashProgressOf(text: string): FlashProgress | undefined {
  const p = /^flash progress (\d+)% \((.*)\)$/.exec(text);
  if (p) return { percent: Number(p[1]), text: `${p[1]}% (${p[2]})` };
  if (/^flash of .*fetching the image$/.test(text)) return { percent: 0, text: "fetching the image…" };
  if (/^flash finished/.test(text)) return { percent: 100, text, done: "ok" };
  if (/^flash from .* (failed|refused|dropped)/.test(text)) return { percent: 0, text, done: "failed" };
  return undefined;
}

export function BoardPage({ id, line }: { id: string; line: string | null }) {
  const { me, can, notify } = useApp();
  const now = useNow();
  const board = useLiveData(() => endpoints.board(id), () => true, [id]);
  const runs = useLiveData(() => endpoints.runs(new URLSearchParams({ board: id, limit: "10" })).then((r) => r.runs), (kind) => kind === "run", [id]);
  const bookings = useLiveData(
    () => endpoints.bookings(`board=${encodeURIComponent(id)}`).then((l) => l.filter((b: Booking) => b.state === "active" || b.state === "scheduled")),
    (kind) => kind === "booking",
    [id],
  );
  const [typing, setTyping] = useState(false);
  const [flash, setFlash] = useState<FlashProgress | undefined>(undefined);
  const sendKeys = useKeySender(id);
  const focusSeq = line !== null && /^\d+$/.test(line) ? Number(line) : undefined;

  const b = board.data;
  if (!b && board.loading) return <Loading what={`board ${id}`} />;
  if (!b) return <Failed error={board.error ?? `no board ${id}`} retry={board.reload} />;

  const holder = b.holder !== undefined && b.holder === me.name;
  const mayType = holder && can("console");
  const onLine = (l: RoomLine) => {
    if (l.line.stream !== "agent") return;
    const p = flashProgressOf(l.line.text);
    if (p) setFlash(p);
  };
  const act = (what: string, fn: () => Promise<unknown>) => () =>
    fn().then(
      () => board.reload(),
      (err: unknown) => notify(`${what}: ${err instanceof Error ? err.message : String(err)}`, "error"),
    );
  const active = (bookings.data ?? []).find((x) => x.state === "active");
  const identity = b.identity;
  return (
    <section class="board-page">
      <div class="page-head">
        <h1>
          <a href={href(["boards"])}>Boards</a> / {b.id}
        </h1>
        <StateBadge state={shownState(b)} />
        {b.holder && (
          <span class={`holding${holder ? " mine" : ""}`} data-testid="holding">
            held by {holder ? "you" : b.holder}
            {b.holderUntil ? ` · ${clock(b.holderUntil - now)} left` : ""}
          </span>
        )}
      </div>
      {b.state === "quarantined" && (
        <p class="warn" role="status">
          Set aside (quarantined){b.quarantineReason ? `: ${b.quarantineReason}` : ""}. No run or booking gets it until an admin releases it.
        </p>
      )}
      {b.note && <p class="warn">{b.note}</p>}
      <div class="board-grid">
        <div class="board-main">
          <LogTerminal boardId={id} focusSeq={focusSeq} onKeys={mayType && typing ? sendKeys : undefined} onLine={onLine} />
          {mayType ? (
            <HolderControls boardId={id} typing={typing} setTyping={setTyping} sendKeys={sendKeys} flash={flash} />
          ) : (
            <p class="muted small">
              {b.holder
                ? `Only ${b.holder}, who holds this board, can type into its console, reset or flash it.`
                : can("console")
                  ? "Book this board to type into its console, reset or flash it."
                  : `Your role (${me.role}) can watch this board but not drive it.`}
            </p>
          )}
        </div>
        <aside class="board-side">
          <h2>Identity</h2>
          <dl>
            <dt>Profile</dt>
            <dd>{b.profile}</dd>
            <dt>Agent</dt>
            <dd>{b.agent}</dd>
            {identity.mac && (
              <>
                <dt>MAC</dt>
                <dd>
                  <code>{identity.mac}</code>
                </dd>
              </>
            )}
            {identity.serialNumber && (
              <>
                <dt>USB serial</dt>
                <dd>
                  <code>{identity.serialNumber}</code>
                </dd>
              </>
            )}
            {identity.usbVendorId && (
              <>
                <dt>USB id</dt>
                <dd>
                  <code>
                    {identity.usbVendorId}:{identity.usbProductId}
                  </code>
                </dd>
              </>
            )}
            {identity.portPath && (
              <>
                <dt>Port</dt>
                <dd>
                  <code>{identity.portPath}</code>
                </dd>
              </>
            )}
            {b.endpoint && (
              <>
                <dt>Endpoint</dt>
                <dd>
                  <code>{b.endpoint}</code>
                </dd>
              </>
            )}
            <dt>Health</dt>
            <dd>{b.health}/100</dd>
            {Object.entries(b.labels).map(([k, v]) => (
              <>
                <dt>{k}</dt>
                <dd>{v}</dd>
              </>
            ))}
          </dl>
          <h2>
            Booking{" "}
            <a class="small" href={href(["bookings"], { board: id })}>
              timeline
            </a>
          </h2>
          {active ? (
            <div>
              <p>
                {active.holder === me.name ? "You hold" : `${active.holder} holds`} this board until {time(active.end)} ({clock(active.end - now)} left).
              </p>
              {active.holder === me.name && (
                <p class="row">
                  <button type="button" onClick={act("extend", () => api("POST", `/api/v1/bookings/${active.id}/extend`, { duration: "30m" }))}>
                    Extend 30 min
                  </button>
                  <button type="button" onClick={act("release", () => api("POST", `/api/v1/bookings/${active.id}/release`))}>
                    Release
                  </button>
                </p>
              )}
            </div>
          ) : (
            <p>Nobody holds it now.</p>
          )}
          {(bookings.data ?? [])
            .filter((x) => x.state === "scheduled")
            .map((x) => (
              <p class="small" key={x.id}>
                Booked by {x.holder} from {time(x.start)} to {time(x.end)}
              </p>
            ))}
          {can("book") && !active && b.state !== "quarantined" && b.state !== "offline" && <BookForm board={id} compact onBooked={() => (board.reload(), bookings.reload())} />}
          {can("admin") && (
            <p class="row">
              {b.state === "quarantined" ? (
                <button type="button" onClick={act("release quarantine", () => api("POST", `/api/v1/boards/${id}/release-quarantine`))}>
                  Release from quarantine
                </button>
              ) : (
                <button
                  type="button"
                  onClick={act("quarantine", () => {
                    const reason = window.prompt("Why set this board aside?", "");
                    return reason === null ? Promise.resolve() : api("POST", `/api/v1/boards/${id}/quarantine`, reason ? { reason } : {});
                  })}
                >
                  Quarantine
                </button>
              )}
            </p>
          )}
          <h2>Recent runs</h2>
          {runs.error && <Failed error={runs.error} retry={runs.reload} />}
          {(runs.data ?? []).length === 0 ? (
            <p class="muted">No runs on this board yet.</p>
          ) : (
            <ul class="recent">
              {(runs.data ?? []).map((r: Run) => (
                <li key={r.id}>
                  <a href={href(["runs", r.id])}>{r.request.suite}</a> <StateBadge state={r.state} />{" "}
                  <span class="muted small">
                    {ago(r.createdAt, now)}
                    {r.startedAt && r.endedAt ? ` · ${duration(r.endedAt - r.startedAt)}` : ""}
                  </span>
                </li>
              ))}
            </ul>
          )}
        </aside>
      </div>
    </section>
  );
}
