// Small display helpers shared by the pages.

export function ago(ms: number, now = Date.now()): string {
  return `${span(Math.abs(now - ms))}${now >= ms ? " ago" : " from now"}`;
}

export function span(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60 ? `${s % 60} s` : ""}`.trim();
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60 ? `${m % 60} min` : ""}`.trim();
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** mm:ss or h:mm:ss, for countdowns. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const two = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  return h > 0 ? `${h}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}` : `${two(Math.floor(s / 60))}:${two(s % 60)}`;
}

export function time(ms: number): string {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : d.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

export function duration(ms: number | undefined): string {
  if (ms === undefined) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : span(ms);
}

/** For <input type="datetime-local">: local time without seconds. */
export function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

/** Stream ids "ms-n" (and board cursors "seq-0") in order. */
export function compareCursor(a: string, b: string): number {
  const [a1 = "0", a2 = "0"] = a.split("-");
  const [b1 = "0", b2 = "0"] = b.split("-");
  const d = BigInt(a1) - BigInt(b1);
  if (d !== 0n) return d < 0n ? -1 : 1;
  const e = BigInt(a2) - BigInt(b2);
  return e === 0n ? 0 : e < 0n ? -1 : 1;
}
