import { useMemo, useState } from "preact/hooks";
import type { Board } from "@hil/contracts";
import { endpoints } from "../api.js";
import { useApp, useLiveData, useNow } from "../app-context.js";
import { Empty, Failed, Loading, StateBadge } from "../components/states.js";
import { clock } from "../format.js";
import { href, navigate } from "../router.js";
import { matches, parseSearch } from "../search-query.js";

type Column = "id" | "profile" | "agent" | "state" | "holder" | "until" | "run" | "health";
const COLUMNS: { key: Column; label: string }[] = [
  { key: "id", label: "Board" },
  { key: "profile", label: "Profile" },
  { key: "agent", label: "Agent" },
  { key: "state", label: "State" },
  { key: "holder", label: "Holder" },
  { key: "until", label: "Until" },
  { key: "run", label: "Current run" },
  { key: "health", label: "Health" },
];

/** What the page calls a board's state: the API's, with "leased" shown as running (a run has it). */
export function shownState(b: Board): string {
  return b.state === "leased" ? "running" : b.state;
}

function fieldsOf(b: Board): Record<string, string | undefined> {
  return {
    id: b.id,
    board: b.id,
    profile: b.profile,
    agent: b.agent,
    state: shownState(b),
    holder: b.holder ?? "",
    run: b.currentRun ?? "",
    mac: b.identity.mac,
    serial: b.identity.serialNumber,
    port: b.identity.portPath,
    ...Object.fromEntries(Object.entries(b.labels).map(([k, v]) => [k.toLowerCase(), v])),
  };
}

function sortValue(b: Board, c: Column): string | number {
  switch (c) {
    case "until":
      return b.holderUntil ?? Number.MAX_SAFE_INTEGER;
    case "health":
      return b.health;
    case "run":
      return b.currentRun ?? "";
    case "holder":
      return b.holder ?? "";
    case "state":
      return shownState(b);
    default:
      return b[c];
  }
}

export function BoardsPage({ query }: { query: URLSearchParams }) {
  const { me } = useApp();
  const now = useNow();
  const { data, error, loading, reload } = useLiveData(endpoints.boards, (kind) => kind === "board" || kind === "booking" || kind === "run");
  const search = query.get("q") ?? "";
  const sort = (query.get("sort") as Column | null) ?? "id";
  const desc = query.get("dir") === "desc";
  const [text, setText] = useState(search);

  const setQuery = (next: Record<string, string | undefined>) => {
    navigate(href(["boards"], { q: search, sort, dir: desc ? "desc" : undefined, ...next }), true);
  };
  const rows = useMemo(() => {
    const terms = parseSearch(search);
    const list = (data ?? []).filter((b) => matches(fieldsOf(b), terms, me.name));
    list.sort((a, b) => {
      const x = sortValue(a, sort);
      const y = sortValue(b, sort);
      const d = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
      return desc ? -d : d;
    });
    return list;
  }, [data, search, sort, desc, me.name]);

  return (
    <section>
      <div class="page-head">
        <h1>Boards</h1>
        <form
          class="search"
          role="search"
          onSubmit={(e) => {
            e.preventDefault();
            setQuery({ q: text });
          }}
        >
          <label class="sr-only" for="board-search">
            Search boards
          </label>
          <input
            id="board-search"
            type="search"
            value={text}
            placeholder="profile:esp32-virtual state:idle holder:me"
            onInput={(e) => {
              const v = (e.currentTarget as HTMLInputElement).value;
              setText(v);
              setQuery({ q: v });
            }}
          />
        </form>
      </div>
      {loading && !data ? (
        <Loading what="boards" />
      ) : error && !data ? (
        <Failed error={error} retry={reload} />
      ) : (data ?? []).length === 0 ? (
        <Empty title="No boards yet">
          <p>
            Start an agent on a bench machine (<code>hil agent</code>), or <code>npm run lab</code> for virtual boards; its boards appear here
            as soon as it announces them.
          </p>
        </Empty>
      ) : rows.length === 0 ? (
        <Empty title="No board matches">
          <p>
            Nothing matches <code>{search}</code>. Terms are <code>field:value</code> (profile, agent, state, holder, run, mac, or a label); bare
            words match any field; <code>-state:offline</code> excludes.{" "}
            <button type="button" class="link" onClick={() => (setText(""), setQuery({ q: undefined }))}>
              Clear the search
            </button>
          </p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="boards" data-testid="boards">
            <caption class="sr-only">Boards, sortable by each column</caption>
            <thead>
              <tr>
                {COLUMNS.map((c) => (
                  <th key={c.key} scope="col" aria-sort={sort === c.key ? (desc ? "descending" : "ascending") : undefined}>
                    <button type="button" class="sort" onClick={() => setQuery({ sort: c.key, dir: sort === c.key && !desc ? "desc" : undefined })}>
                      {c.label}
                      {sort === c.key ? (desc ? " ▼" : " ▲") : ""}
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map((b) => (
                <tr key={b.id} data-board={b.id} class={b.holder === me.name ? "mine" : undefined}>
                  <td>
                    <a href={href(["boards", b.id])}>{b.id}</a>
                    {b.virtual && <span class="tag">virtual</span>}
                  </td>
                  <td>{b.profile}</td>
                  <td>{b.agent}</td>
                  <td>
                    <StateBadge state={shownState(b)} />
                    {b.note && <span class="hint" title={b.note}> ⓘ</span>}
                  </td>
                  <td>{b.holder ? (b.holder === me.name ? `${b.holder} (you)` : b.holder) : ""}</td>
                  <td>{b.holderUntil ? <span title={new Date(b.holderUntil).toLocaleString()}>{clock(b.holderUntil - now)} left</span> : ""}</td>
                  <td>{b.currentRun ? <a href={href(["runs", b.currentRun])}>{b.currentRun}</a> : ""}</td>
                  <td>
                    <meter min={0} max={100} low={50} high={80} optimum={100} value={b.health} title={`${b.health}/100`} /> {b.health}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <p class="muted small">
        {rows.length} of {(data ?? []).length} boards · updates live
      </p>
    </section>
  );
}
