import "@xterm/xterm/css/xterm.css";
import "./style.css";
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, endpoints, request, session, setUnauthorizedHandler, type Me } from "./api.js";
import { App, type AppContext } from "./app-context.js";
import { BookingWatch } from "./components/booking-watch.js";
import { Live, type Connection } from "./live.js";
import { BoardPage } from "./pages/board.js";
import { BoardsPage } from "./pages/boards.js";
import { BookingsPage } from "./pages/bookings.js";
import { RunPage } from "./pages/run.js";
import { RunsPage } from "./pages/runs.js";
import { SignIn } from "./pages/sign-in.js";
import { href, navigate, useRoute } from "./router.js";

interface Note {
  id: number;
  text: string;
  kind: "error" | "info";
}

function Shell({ me, onSignOut }: { me: Me; onSignOut: () => void | Promise<void> }) {
  const route = useRoute();
  const [notes, setNotes] = useState<Note[]>([]);
  const [conn, setConn] = useState<Connection>("connecting");
  const live = useMemo(() => new Live(session.get()!.token, onSignOut), []);
  useEffect(() => {
    const off = live.onState(setConn);
    // for tests and for trying a fault by hand from the browser's console
    (window as unknown as { hilLive?: Live }).hilLive = live;
    return () => {
      off();
      live.close();
    };
  }, [live]);
  const ctx: AppContext = useMemo(
    () => ({
      me,
      live,
      can: (p) => me.permissions.includes(p),
      notify(text, kind = "info") {
        const id = Date.now() + Math.random();
        setNotes((n) => [...n.slice(-3), { id, text, kind }]);
        setTimeout(() => setNotes((n) => n.filter((x) => x.id !== id)), kind === "error" ? 10_000 : 5000);
      },
    }),
    [me, live],
  );
  const [page] = route.path;
  const nav = (name: string, label: string) => (
    <a href={href([name])} aria-current={page === name ? "page" : undefined}>
      {label}
    </a>
  );
  let view;
  if (page === "boards" && route.path[1]) view = <BoardPage id={route.path[1]} line={route.query.get("line")} />;
  else if (page === "runs" && route.path[1]) view = <RunPage id={route.path[1]} seq={route.query.get("seq")} />;
  else if (page === "runs") view = <RunsPage query={route.query} />;
  else if (page === "bookings") view = <BookingsPage query={route.query} />;
  else if (page === "boards") view = <BoardsPage query={route.query} />;
  else
    view = (
      <section class="empty">
        <h1>Nothing here</h1>
        <p>
          There is no page <code>{route.path.join("/")}</code>. Go to the <a href={href(["boards"])}>boards</a>.
        </p>
      </section>
    );
  return (
    <App.Provider value={ctx}>
      <header class="top">
        <a class="brand" href={href(["boards"])}>
          HIL Lab
        </a>
        <nav aria-label="Main">
          {nav("boards", "Boards")}
          {nav("runs", "Runs")}
          {nav("bookings", "Bookings")}
        </nav>
        <span class={`conn conn-${conn}`} role="status" title="The live channel that streams logs and changes">
          {conn === "live" ? "live" : conn === "connecting" ? "connecting…" : conn === "reconnecting" ? "reconnecting…" : "signed out"}
        </span>
        <span class="who" data-testid="who">
          {me.name} <span class="role">{me.role}</span>
        </span>
        <button type="button" class="link" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <BookingWatch />
      <div class="notes" aria-live="polite">
        {notes.map((n) => (
          <p key={n.id} class={`note note-${n.kind}`} role={n.kind === "error" ? "alert" : undefined}>
            {n.text}
          </p>
        ))}
      </div>
      <main id="main">{view}</main>
    </App.Provider>
  );
}

function Root() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [problem, setProblem] = useState<string | undefined>(undefined);
  const check = () => {
    if (!session.get()) return setMe(null);
    endpoints.me().then(
      (m) => (setProblem(undefined), setMe(m)),
      (err: unknown) => {
        if (err instanceof ApiError && err.status === 401) {
          session.clear();
          setMe(null);
        } else setProblem(err instanceof Error ? err.message : String(err));
      },
    );
  };
  useEffect(() => {
    setUnauthorizedHandler(() => {
      session.clear();
      setMe(null);
    });
    check();
  }, []);
  const signOut = async () => {
    const s = session.get();
    // a dashboard session is ended on the server too, before the sign-in page shows (a lab that does not answer
    // leaves it to expire); a pasted API token is only forgotten here
    if (s?.kind === "session") await request("DELETE", "/api/v1/sessions/current").catch(() => {});
    session.clear();
    setMe(null);
    navigate(href(["boards"]));
  };
  if (problem)
    return (
      <section class="empty" role="alert">
        <h1>The lab does not answer</h1>
        <p>{problem}</p>
        <button type="button" onClick={check}>
          Try again
        </button>
      </section>
    );
  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me === null) return <SignIn onSignedIn={check} />;
  if (me.role === "agent")
    return (
      <section class="empty" role="alert">
        <h1>An agent's token cannot sign in</h1>
        <p>Sign in with your account or an API token of role viewer, qa, ci or admin.</p>
        <button type="button" onClick={signOut}>
          Sign out
        </button>
      </section>
    );
  return <Shell key={me.name} me={me} onSignOut={signOut} />;
}

render(<Root />, document.getElementById("app")!);
