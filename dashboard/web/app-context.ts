import { createContext } from "preact";
import { useContext, useEffect, useState } from "preact/hooks";
import type { Me } from "./api.js";
import type { Live } from "./live.js";

export interface AppContext {
  me: Me;
  live: Live;
  can(permission: string): boolean;
  /** Shows a message at the top of the page (errors of actions, confirmations). */
  notify(text: string, kind?: "error" | "info"): void;
}

export const App = createContext<AppContext | null>(null);

export function useApp(): AppContext {
  const ctx = useContext(App);
  if (!ctx) throw new Error("useApp outside the signed-in app");
  return ctx;
}

/** Re-renders every `ms` (countdowns, "x ago"). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms]);
  return now;
}

/**
 * Loads with `load`, and again whenever a change event matching `relevant` arrives or the live channel
 * reconnects (events may have been missed meanwhile). Refetches are coalesced to one per 250 ms.
 */
export function useLiveData<T>(
  load: () => Promise<T>,
  relevant: (kind: "run" | "booking" | "board", id: string) => boolean,
  deps: unknown[] = [],
): { data: T | undefined; error: string | undefined; loading: boolean; reload: () => void } {
  const { live } = useApp();
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    setLoading(true);
    load().then(
      (d) => {
        if (!alive) return;
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (err: unknown) => {
        if (!alive) return;
        setError(err instanceof Error ? err.message : String(err));
        setLoading(false);
      },
    );
    return () => {
      alive = false;
    };
  }, [tick, ...deps]);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const later = () => {
      if (!timer) timer = setTimeout(() => ((timer = undefined), setTick((t) => t + 1)), 250);
    };
    const offChange = live.onChange((c) => relevant(c.kind, c.id) && later());
    const offReconnect = live.onReconnect(later);
    return () => {
      offChange();
      offReconnect();
      if (timer) clearTimeout(timer);
    };
  }, deps);
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}
