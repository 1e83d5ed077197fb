// The REST API from the page: every call carries the signed-in credential as a bearer token.
import type { Board, Booking, Run } from "@hil/contracts";

const SESSION_KEY = "hil.session";

export interface Me {
  name: string;
  role: "viewer" | "qa" | "ci" | "admin" | "agent";
  via: string;
  permissions: string[];
}

export interface StoredSession {
  token: string;
  /** A dashboard session (revoked on sign-out) or an API token pasted in. */
  kind: "session" | "token";
}

export const session = {
  get(): StoredSession | null {
    try {
      const raw = localStorage.getItem(SESSION_KEY);
      const s = raw ? (JSON.parse(raw) as StoredSession) : null;
      return s && typeof s.token === "string" ? s : null;
    } catch {
      return null;
    }
  },
  set(s: StoredSession): void {
    localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  },
  clear(): void {
    localStorage.removeItem(SESSION_KEY);
  },
};

export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};
/** Called when the API answers 401: the session ended or was revoked. */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

async function errorOf(res: Response): Promise<ApiError> {
  let message = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { error?: string; issues?: { path: string; message: string }[] };
    if (body.error) message = body.error;
    if (body.issues?.length) message += ": " + body.issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ");
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message);
}

export async function request(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const s = session.get();
  if (s) headers.set("authorization", `Bearer ${s.token}`);
  let payload: BodyInit | undefined;
  if (body instanceof Blob || body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers.set("content-type", "application/json");
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, { ...init, method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  } catch {
    throw new ApiError(0, "the lab does not answer; check that the scheduler is running, then retry");
  }
  if (res.status === 401 && s) onUnauthorized();
  if (!res.ok) throw await errorOf(res);
  return res;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export const get = <T>(path: string) => api<T>("GET", path);

export type { Board, Booking, Run };

export const endpoints = {
  me: () => get<Me>("/api/v1/me"),
  boards: () => get<{ boards: Board[] }>("/api/v1/boards").then((r) => r.boards),
  board: (id: string) => get<Board & { quarantineReason?: string }>(`/api/v1/boards/${encodeURIComponent(id)}`),
  runs: (query: URLSearchParams) => get<{ runs: Run[]; nextCursor?: string }>(`/api/v1/runs?${query}`),
  run: (id: string) => get<Run & { queue?: { position: number; pending: number } }>(`/api/v1/runs/${encodeURIComponent(id)}`),
  bookings: (query = "") => get<{ bookings: Booking[] }>(`/api/v1/bookings${query ? `?${query}` : ""}`).then((r) => r.bookings),
};

/** Saves a blob as a download named `name` (the browser's own save). */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
