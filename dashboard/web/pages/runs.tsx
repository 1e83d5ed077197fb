import { useState } from "preact/hooks";
import type { Run } from "@hil/contracts";
import { endpoints } from "../api.js";
import { useApp, useLiveData, useNow } from "../app-context.js";
import { Empty, Failed, Loading, StateBadge } from "../components/states.js";
import { ago, duration, localInput } from "../format.js";
import { href, navigate } from "../router.js";

const STATES = ["queued", "leased", "running", "passed", "failed", "error", "cancelled", "timed-out"];
const FILTERS = ["state", "suite", "submitter", "board", "commit", "after", "before"] as const;
const PAGE = 25;

export function commitOf(r: Run): string | undefined {
  return r.request.ci?.commit;
}

export function RunsPage({ query }: { query: URLSearchParams }) {
  const { me } = useApp();
  const now = useNow(5000);
  // paging: the cursors of the pages before this one, so Back works without the API going backwards
  const cursor = query.get("cursor") ?? undefined;
  const [trail, setTrail] = useState<string[]>([]);
  const apiQuery = new URLSearchParams({ limit: String(PAGE) });
  for (const f of FILTERS) {
    const v = query.get(f);
    if (!v) continue;
    apiQuery.set(f, f === "after" || f === "before" ? String(new Date(v).getTime()) : v);
  }
  if (cursor) apiQuery.set("cursor", cursor);
  const key = apiQuery.toString();
  const { data, error, loading, reload } = useLiveData(() => endpoints.runs(apiQuery), (kind) => kind === "run" && !cursor, [key]);

  const set = (next: Record<string, string | undefined>, keepCursor = false) => {
    const q: Record<string, string | undefined> = {};
    for (const f of FILTERS) q[f] = query.get(f) ?? undefined;
    if (keepCursor) q["cursor"] = cursor;
    if (!keepCursor) setTrail([]);
    navigate(href(["runs"], { ...q, ...next }));
  };
  const input = (name: (typeof FILTERS)[number], label: string, placeholder = "") => (
    <label>
      {label}
      <input
        name={name}
        defaultValue={query.get(name) ?? ""}
        placeholder={placeholder}
        onChange={(e) => set({ [name]: (e.currentTarget as HTMLInputElement).value.trim() || undefined })}
      />
    </label>
  );

  return (
    <section>
      <div class="page-head">
        <h1>Runs</h1>
        <a class="small" href={href(["runs"], { submitter: me.name })}>
          Mine
        </a>
        <a class="small" href={href(["runs"], { state: "failed,error,timed-out" })}>
          Failures
        </a>
        <a class="small" href={href(["runs"], { state: "queued,leased,running" })}>
          In progress
        </a>
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter runs">
        <label>
          State
          <select name="state" value={query.get("state") ?? ""} onChange={(e) => set({ state: (e.currentTarget as HTMLSelectElement).value || undefined })}>
            <option value="">any</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
            {query.get("state")?.includes(",") && <option value={query.get("state")!}>{query.get("state")}</option>}
          </select>
        </label>
        {input("suite", "Suite", "esp32-smoke")}
        {input("submitter", "Submitter")}
        {input("board", "Board")}
        {input("commit", "Commit", "a1b2c3")}
        <label>
          From
          <input
            type="datetime-local"
            defaultValue={query.get("after") ? localInput(new Date(query.get("after")!).getTime()) : ""}
            onChange={(e) => set({ after: (e.currentTarget as HTMLInputElement).value || undefined })}
          />
        </label>
        <label>
          To
          <input
            type="datetime-local"
            defaultValue={query.get("before") ? localInput(new Date(query.get("before")!).getTime()) : ""}
            onChange={(e) => set({ before: (e.currentTarget as HTMLInputElement).value || undefined })}
          />
        </label>
        <button type="button" class="link" onClick={() => navigate(href(["runs"]))}>
          Clear filters
        </button>
      </form>
      {loading && !data ? (
        <Loading what="runs" />
      ) : error ? (
        <Failed error={error} retry={reload} />
      ) : (data?.runs ?? []).length === 0 ? (
        <Empty title={FILTERS.some((f) => query.get(f)) ? "No run matches these filters" : "No runs yet"}>
          <p>
            Runs come from CI or from <code>hil run SUITE --profile esp32-virtual --wait</code>; each appears here as soon as it is queued.
          </p>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="runs" data-testid="runs">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Suite</th>
                <th scope="col">State</th>
                <th scope="col">Board</th>
                <th scope="col">Submitter</th>
                <th scope="col">Commit</th>
                <th scope="col">Queued</th>
                <th scope="col">Took</th>
              </tr>
            </thead>
            <tbody>
              {data!.runs.map((r) => (
                <tr key={r.id} data-run={r.id}>
                  <td>
                    <a href={href(["runs", r.id])}>{r.id}</a>
                  </td>
                  <td>
                    {r.request.suite}
                    {r.purpose === "health-check" ? <span class="muted small"> (the lab's health check)</span> : null}
                  </td>
                  <td>
                    <StateBadge state={r.state} />
                  </td>
                  <td>
                    {Object.values(r.boards).map((b) => (
                      <a key={b} href={href(["boards", b])}>
                        {b}{" "}
                      </a>
                    ))}
                  </td>
                  <td>{r.submitter}</td>
                  <td>
                    <code>{commitOf(r)?.slice(0, 10) ?? ""}</code>
                  </td>
                  <td title={new Date(r.createdAt).toLocaleString()}>{ago(r.createdAt, now)}</td>
                  <td>{r.startedAt ? duration((r.endedAt ?? now) - r.startedAt) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Pages">
        <button
          type="button"
          disabled={!cursor}
          onClick={() => {
            const prev = trail.slice(0, -1);
            const back = trail[trail.length - 1];
            setTrail(prev);
            set({ cursor: back || undefined }, false);
            setTrail(prev);
          }}
        >
          ← Newer
        </button>
        <button
          type="button"
          disabled={!data?.nextCursor}
          onClick={() => {
            setTrail([...trail, cursor ?? ""]);
            const q: Record<string, string | undefined> = {};
            for (const f of FILTERS) q[f] = query.get(f) ?? undefined;
            navigate(href(["runs"], { ...q, cursor: data!.nextCursor }));
          }}
        >
          Older →
        </button>
      </nav>
    </section>
  );
}
