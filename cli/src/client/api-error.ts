/** A scheduler answer other than 2xx, or no answer at all (`status` 0). */
export class HilApiError extends Error {
  override name = "HilApiError";

  constructor(
    message: string,
    readonly status: number,
    readonly body?: unknown,
  ) {
    super(message);
  }

  /** The request itself was wrong (bad field, unknown suite, no token): the caller must change it. */
  get isUsage(): boolean {
    return this.status >= 400 && this.status < 500;
  }
}

/** Turns the scheduler's `{ error, issues?, reason? }` into one readable line. */
export function describeApiError(status: number, body: unknown, what: string): string {
  if (typeof body === "object" && body !== null) {
    const b = body as { error?: unknown; reason?: unknown; issues?: unknown };
    const parts: string[] = [];
    if (typeof b.error === "string") parts.push(b.error);
    if (typeof b.reason === "string") parts.push(b.reason);
    if (Array.isArray(b.issues)) {
      for (const i of b.issues as { path?: unknown; message?: unknown }[]) parts.push(`${String(i.path ?? "")}: ${String(i.message ?? "")}`);
    }
    if (parts.length > 0) return `${what}: HTTP ${status}: ${parts.join("; ")}`;
  }
  if (status === 401) return `${what}: HTTP 401: the token was refused; check HIL_TOKEN`;
  return `${what}: HTTP ${status}${typeof body === "string" && body ? `: ${body.slice(0, 200)}` : ""}`;
}
