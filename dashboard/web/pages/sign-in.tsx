import { useState } from "preact/hooks";
import { api, ApiError, session } from "../api.js";

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [mode, setMode] = useState<"account" | "token">("account");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      if (mode === "account") {
        const name = String(form.get("name") ?? "").trim();
        const password = String(form.get("password") ?? "");
        if (!name || !password) throw new Error("give your account name and password");
        const s = await api<{ token: string }>("POST", "/api/v1/sessions", { name, password });
        session.set({ token: s.token, kind: "session" });
      } else {
        const token = String(form.get("token") ?? "").trim();
        if (!token) throw new Error("paste an API token (hil tokens create, or the lab's admin token file)");
        session.set({ token, kind: "token" });
      }
      onSignedIn();
    } catch (err) {
      session.clear();
      setError(err instanceof ApiError && err.status === 401 ? "wrong name or password" : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>HIL Lab</h1>
      <p class="muted">Sign in to see the boards, follow their serial output, and book them.</p>
      <div class="tabs" role="tablist">
        <button type="button" role="tab" aria-selected={mode === "account"} onClick={() => setMode("account")}>
          Account
        </button>
        <button type="button" role="tab" aria-selected={mode === "token"} onClick={() => setMode("token")}>
          API token
        </button>
      </div>
      <form onSubmit={submit} aria-busy={busy}>
        {mode === "account" ? (
          <>
            <label>
              Name
              <input name="name" autocomplete="username" required autofocus />
            </label>
            <label>
              Password
              <input name="password" type="password" autocomplete="current-password" required />
            </label>
          </>
        ) : (
          <label>
            Token
            <input name="token" type="password" autocomplete="off" placeholder="hil_…" required autofocus />
          </label>
        )}
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
      <p class="muted small">
        No account? An admin creates one with <code>hil users add NAME --role qa</code>. On a lab started with <code>npm run lab</code>, the
        admin token is in <code>.hil/admin-token</code>.
      </p>
    </main>
  );
}
