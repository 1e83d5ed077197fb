// Across every page: the signed-in person's active bookings with a countdown, a warning in the last
// five minutes, and why a booking ended early when someone else ended it.
import { useState } from "preact/hooks";
import type { Booking } from "@hil/contracts";
import { api, endpoints } from "../api.js";
import { useApp, useLiveData, useNow } from "../app-context.js";
import { clock } from "../format.js";
import { href } from "../router.js";
import { endedBecause } from "../pages/bookings.js";

const WARN_MS = 5 * 60_000;
const RECENT_MS = 30 * 60_000;

export function BookingWatch() {
  const { me, notify } = useApp();
  const now = useNow();
  const [dismissed, setDismissed] = useState<Set<string>>(() => new Set(JSON.parse(sessionStorage.getItem("hil.dismissed") ?? "[]") as string[]));
  const { data, reload } = useLiveData(() => endpoints.bookings(`holder=${encodeURIComponent(me.name)}`), (k) => k === "booking", [me.name]);
  const list = data ?? [];
  const active = list.filter((b) => b.state === "active" && b.end > now);
  // ended by someone else or by a quarantine, recently: say so once
  const takenBack = list.filter(
    (b) => b.state === "released" && (b.endReason === "quarantined" || b.endReason === "released-by-admin") && now - b.end < RECENT_MS && !dismissed.has(b.id),
  );
  const dismiss = (b: Booking) => {
    const next = new Set(dismissed).add(b.id);
    setDismissed(next);
    sessionStorage.setItem("hil.dismissed", JSON.stringify([...next]));
  };
  if (active.length === 0 && takenBack.length === 0) return null;
  return (
    <div class="booking-watch" data-testid="booking-watch">
      {active.map((b) => {
        const left = b.end - now;
        return (
          <p key={b.id} class={left < WARN_MS ? "warn" : "info"} role={left < WARN_MS ? "alert" : "status"}>
            You hold <a href={href(["boards", b.board])}>{b.board}</a>: <strong>{clock(left)}</strong> left
            {left < WARN_MS ? " — it ends soon; extend it or save your work." : "."}{" "}
            <button
              type="button"
              class="link"
              onClick={() =>
                api("POST", `/api/v1/bookings/${b.id}/extend`, { duration: "30m" }).then(reload, (err: unknown) =>
                  notify(`extend: ${err instanceof Error ? err.message : String(err)}`, "error"),
                )
              }
            >
              Extend 30 min
            </button>
          </p>
        );
      })}
      {takenBack.map((b) => (
        <p key={b.id} class="warn" role="alert">
          Your booking of <a href={href(["boards", b.board])}>{b.board}</a> ended early: {endedBecause(b, me.name)}.{" "}
          <button type="button" class="link" onClick={() => dismiss(b)}>
            Dismiss
          </button>
        </p>
      ))}
    </div>
  );
}
