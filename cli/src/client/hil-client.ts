import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import {
  BoardSchema,
  BookingRequestSchema,
  BookingSchema,
  LogLineSchema,
  RunSchema,
  type Board,
  type Booking,
  type LogLine,
  type Run,
  type RunRequest,
} from "@hil/contracts";
import { sha256File } from "@hil/lab-agent";
import { z } from "zod";
import { HilApiError, describeApiError } from "./api-error.js";
import { readSse } from "./sse-reader.js";

export const QueueInfoSchema = z
  .object({
    position: z.number().optional(),
    pending: z.number().optional(),
    waitingFor: z.string().optional(),
    etaMs: z.number().optional(),
  })
  .passthrough();
export const RunViewSchema = z.object({ ...RunSchema.shape, queue: QueueInfoSchema.optional() });
export type RunView = z.infer<typeof RunViewSchema>;
export type QueueInfo = z.infer<typeof QueueInfoSchema>;

const ArtifactAnswerSchema = z.object({ sha256: z.string(), size: z.number() }).passthrough();
const RunListSchema = z.object({ runs: z.array(RunViewSchema), nextCursor: z.string().optional() });
// Answers are read leniently (unknown fields dropped), so a newer scheduler does not break an older CLI.
const BoardViewSchema = z.object(BoardSchema.shape);
const BookingViewSchema = z.object(BookingSchema.shape);
const LogLineViewSchema = z.object(LogLineSchema.shape);
const BoardListSchema = z.object({ boards: z.array(BoardViewSchema) });
const BookingListSchema = z.object({ bookings: z.array(BookingViewSchema) });

export interface FollowLogOptions {
  since?: number;
  follow?: boolean;
  signal?: AbortSignal;
  onLine(line: LogLine): void;
  /** Called before each reconnect (server restarted, connection dropped). */
  onReconnect?(since: number, err: Error): void;
}

/** Typed client for the scheduler's HTTP API (`docs/scheduler.md`). */
export class HilClient {
  private readonly base: string;

  constructor(private readonly opts: { url: string; token: string }) {
    this.base = opts.url.replace(/\/+$/, "");
  }

  get url(): string {
    return this.base;
  }

  /** The Authorization header value, for connections this client does not make itself (WebSockets). */
  get authorization(): string {
    return `Bearer ${this.opts.token}`;
  }

  /** The run's API address: answers wherever the scheduler runs, with or without a dashboard in front. */
  runUrl(id: string): string {
    return `${this.base}/api/v1/runs/${encodeURIComponent(id)}`;
  }

  /** Uploads a file unless the server already holds its hash. */
  async uploadArtifact(path: string): Promise<{ sha256: string; size: number; uploaded: boolean }> {
    const [sha256, info] = await Promise.all([sha256File(path), stat(path)]);
    const head = await this.raw("HEAD", `/api/v1/artifacts/${sha256}`, "check artifact");
    if (head.ok) return { sha256, size: info.size, uploaded: false };
    if (head.status !== 404) throw new HilApiError(describeApiError(head.status, undefined, "check artifact"), head.status);
    const body = Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>;
    const res = await this.raw("POST", "/api/v1/artifacts", `upload ${path}`, {
      body,
      headers: { "content-type": "application/octet-stream", "content-length": String(info.size) },
      duplex: "half",
    });
    const answer = ArtifactAnswerSchema.parse(await this.json(res, `upload ${path}`));
    if (answer.sha256 !== sha256) throw new HilApiError(`upload ${path}: the server stored ${answer.sha256}, expected ${sha256}`, res.status);
    return { sha256, size: answer.size, uploaded: true };
  }

  async submitRun(request: RunRequest): Promise<RunView> {
    return RunViewSchema.parse(await this.call("POST", "/api/v1/runs", "submit run", request));
  }

  async getRun(id: string): Promise<RunView> {
    return RunViewSchema.parse(await this.call("GET", `/api/v1/runs/${encodeURIComponent(id)}`, `get run ${id}`));
  }

  async cancelRun(id: string): Promise<RunView> {
    return RunViewSchema.parse(await this.call("POST", `/api/v1/runs/${encodeURIComponent(id)}/cancel`, `cancel run ${id}`));
  }

  async listRuns(query: { state?: string; submitter?: string; suite?: string; board?: string; limit?: number; cursor?: string } = {}) {
    return RunListSchema.parse(await this.call("GET", `/api/v1/runs${qs(query)}`, "list runs"));
  }

  async junit(id: string): Promise<string> {
    const res = await this.raw("GET", `/api/v1/runs/${encodeURIComponent(id)}/junit`, `JUnit of run ${id}`);
    if (!res.ok) throw new HilApiError(describeApiError(res.status, await bodyOf(res), `JUnit of run ${id}`), res.status);
    return res.text();
  }

  async runLog(id: string): Promise<string> {
    const res = await this.raw("GET", `/api/v1/runs/${encodeURIComponent(id)}/log`, `log of run ${id}`);
    if (!res.ok) throw new HilApiError(describeApiError(res.status, await bodyOf(res), `log of run ${id}`), res.status);
    return res.text();
  }

  async boards(query: { profile?: string; state?: string; agent?: string } = {}): Promise<Board[]> {
    return BoardListSchema.parse(await this.call("GET", `/api/v1/boards${qs(query)}`, "list boards")).boards;
  }

  async book(request: z.input<typeof BookingRequestSchema>): Promise<Booking> {
    return BookingViewSchema.parse(await this.call("POST", "/api/v1/bookings", "book", request));
  }

  async bookings(query: { board?: string; holder?: string; active?: boolean } = {}): Promise<Booking[]> {
    const q = { ...query, active: query.active ? "1" : undefined };
    return BookingListSchema.parse(await this.call("GET", `/api/v1/bookings${qs(q)}`, "list bookings")).bookings;
  }

  async releaseBooking(id: string): Promise<Booking> {
    return BookingViewSchema.parse(await this.call("POST", `/api/v1/bookings/${encodeURIComponent(id)}/release`, `release booking ${id}`));
  }

  /**
   * Reads a board's log as Server-Sent Events. With `follow`, a dropped connection is resumed
   * from the last sequence number seen, so no line is lost or repeated. Resolves with the last seq.
   */
  async followBoardLog(boardId: string, opts: FollowLogOptions): Promise<number> {
    let since = opts.since ?? 0;
    let failures = 0;
    for (;;) {
      if (opts.signal?.aborted) return since;
      const query = qs({ since: String(since), follow: opts.follow ? "1" : undefined });
      try {
        const res = await this.raw("GET", `/api/v1/boards/${encodeURIComponent(boardId)}/log${query}`, `log of board ${boardId}`, {
          headers: { accept: "text/event-stream", "last-event-id": String(since) },
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
        if (!res.ok || !res.body) throw new HilApiError(describeApiError(res.status, await bodyOf(res), `log of board ${boardId}`), res.status);
        for await (const ev of readSse(res.body)) {
          if (ev.event !== undefined && ev.event !== "message" && ev.event !== "line") continue;
          const line = LogLineViewSchema.parse(JSON.parse(ev.data));
          // The server resumes after `since`; the check keeps a replayed line from printing twice.
          if (line.seq <= since) continue;
          since = line.seq;
          failures = 0;
          opts.onLine(line);
        }
        if (!opts.follow) return since;
      } catch (err) {
        if (opts.signal?.aborted) return since;
        if (err instanceof HilApiError && err.isUsage) throw err;
        if (!opts.follow || ++failures > 30) throw err;
        opts.onReconnect?.(since, err as Error);
      }
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** Math.min(failures, 4))));
    }
  }

  /** Any JSON route of the API (identity and admin commands use it; answers are printed as they come). */
  async request(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, what: string, body?: unknown): Promise<unknown> {
    return this.call(method, path, what, body);
  }

  private async call(method: string, path: string, what: string, body?: unknown): Promise<unknown> {
    const init: RequestInit = body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } };
    return this.json(await this.raw(method, path, what, init), what);
  }

  private async json(res: Response, what: string): Promise<unknown> {
    const body = await bodyOf(res);
    if (!res.ok) throw new HilApiError(describeApiError(res.status, body, what), res.status, body);
    return body;
  }

  private async raw(method: string, path: string, what: string, init: RequestInit & { duplex?: "half" } = {}): Promise<Response> {
    const headers = { authorization: `Bearer ${this.opts.token}`, ...(init.headers as Record<string, string> | undefined) };
    try {
      return await fetch(`${this.base}${path}`, { ...init, method, headers });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
      throw new HilApiError(`${what}: no answer from ${this.base} (${cause})`, 0);
    }
  }
}

function qs(query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : "";
}

async function bodyOf(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
