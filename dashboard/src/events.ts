import { z } from "zod";
import type { ChangeEvent, LogLine } from "@hil/contracts";
import type { Identity } from "@hil/scheduler";

/** A board id or run id as the API accepts them. */
const IdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "a board or run id");

/**
 * Where a client resumes: the `cursor` of the last line it saw. On a board a sequence number (`57`) works too,
 * since a board line's cursor is `<seq>-0`; a run's cursors are Redis stream ids (`1764567000000-3`).
 */
export const CursorSchema = z.union([z.number().int().nonnegative(), z.string().regex(/^\d{1,20}-\d{1,20}$/, "a cursor such as 57-0")]);

export const JoinRequestSchema = z.discriminatedUnion("room", [
  z.object({ room: z.literal("board"), id: IdSchema, since: CursorSchema.optional(), tail: z.number().int().min(0).max(5000).optional() }).strict(),
  z.object({ room: z.literal("run"), id: IdSchema, since: CursorSchema.optional(), tail: z.number().int().min(0).max(5000).optional() }).strict(),
  z.object({ room: z.literal("changes") }).strict(),
]);
export type JoinRequest = z.infer<typeof JoinRequestSchema>;

export const LeaveRequestSchema = z.discriminatedUnion("room", [
  z.object({ room: z.literal("board"), id: IdSchema }).strict(),
  z.object({ room: z.literal("run"), id: IdSchema }).strict(),
  z.object({ room: z.literal("changes") }).strict(),
]);
export type LeaveRequest = z.infer<typeof LeaveRequestSchema>;

/** Every client→server event is answered: `ok`, or `error` saying what was wrong (`unauthorized`, `forbidden`, a payload problem). */
export type Ack = { ok: true; room: string; cursor?: string } | { ok: false; error: string };

/** One line of a log room; `cursor` is what a client sends back as `since` to resume after it. */
export interface RoomLine {
  readonly cursor: string;
  readonly line: LogLine;
}

export interface LinesBatch {
  /** `board:<id>` or `run:<id>` */
  readonly room: string;
  readonly lines: readonly RoomLine[];
}

export interface ClientToServerEvents {
  /** Joins a board's or run's log room (backlog after `since`, or the last `tail` lines, then live lines), or the changes feed. */
  join(request: JoinRequest, ack: (res: Ack) => void): void;
  leave(request: LeaveRequest, ack: (res: Ack) => void): void;
}

export interface ServerToClientEvents {
  lines(batch: LinesBatch): void;
  change(change: ChangeEvent): void;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface InterServerEvents {}

export interface SocketData {
  identity: Identity;
  /** The presented token, checked again at most every `recheckMs` (a revoked session is refused at its next event). */
  token: string;
  checkedAt: number;
}

export const DEFAULT_TAIL = 1000;
