// The live channel: one socket.io connection per page, authenticated with the same credential as the
// REST calls. Log subscriptions remember the cursor of the last line delivered and rejoin after it on
// every reconnect (a dropped connection, a gateway restart), and drop anything at or before it, so a
// view holds every line exactly once.
import { io, type Socket } from "socket.io-client";
import type { Ack, ClientToServerEvents, RoomLine, ServerToClientEvents } from "@hil/dashboard";
import type { ChangeEvent } from "@hil/contracts";
import { compareCursor } from "./format.js";

type LabSocket = Socket<ServerToClientEvents, ClientToServerEvents>;
export type Connection = "connecting" | "live" | "reconnecting" | "signed-out";

export interface LogSubscription {
  /** The cursor of the last line delivered (what a rejoin resumes after). */
  readonly cursor: string | undefined;
  close(): void;
}

interface Follow {
  room: "board" | "run";
  id: string;
  cursor: string | undefined;
  tail: number;
  onLines(lines: readonly RoomLine[]): void;
  onError(message: string): void;
  joined: boolean;
}

export class Live {
  private readonly socket: LabSocket;
  private readonly follows = new Map<string, Follow>();
  private readonly changeListeners = new Set<(c: ChangeEvent) => void>();
  private readonly stateListeners = new Set<(s: Connection) => void>();
  private readonly reconnectListeners = new Set<() => void>();
  private everConnected = false;
  state: Connection = "connecting";

  constructor(token: string, onUnauthorized: () => void) {
    this.socket = io({ auth: { token }, transports: ["websocket", "polling"], reconnectionDelayMax: 3000 });
    this.socket.on("connect", () => {
      this.setState("live");
      this.socket.emit("join", { room: "changes" }, () => {});
      for (const f of this.follows.values()) this.join(f);
      if (this.everConnected) for (const fn of this.reconnectListeners) fn();
      this.everConnected = true;
    });
    this.socket.on("disconnect", (reason) => {
      for (const f of this.follows.values()) f.joined = false;
      if (this.state === "signed-out") return;
      this.setState("reconnecting");
      // A server that disconnects us on purpose (a gateway shutting down for a restart, a revoked session)
      // is not retried by socket.io itself: try again after a moment; a revoked session then fails its
      // handshake with "unauthorized" and the page signs out.
      if (reason === "io server disconnect") setTimeout(() => this.state !== "signed-out" && this.socket.connect(), 500 + Math.random() * 1500);
    });
    this.socket.on("connect_error", (err) => {
      if (err.message === "unauthorized") {
        this.setState("signed-out");
        this.socket.disconnect();
        onUnauthorized();
      } else this.setState("reconnecting");
    });
    this.socket.on("lines", (batch) => {
      const f = this.follows.get(batch.room);
      if (!f) return;
      // anything at or before the last delivered cursor was delivered already (a rejoin's overlap)
      const fresh = f.cursor === undefined ? batch.lines : batch.lines.filter((l) => compareCursor(l.cursor, f.cursor!) > 0);
      if (fresh.length === 0) return;
      f.cursor = fresh[fresh.length - 1]!.cursor;
      f.onLines(fresh);
    });
    this.socket.on("change", (c) => {
      for (const fn of this.changeListeners) fn(c);
    });
  }

  private setState(s: Connection): void {
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }

  private join(f: Follow): void {
    const since = f.cursor;
    this.socket.emit("join", { room: f.room, id: f.id, ...(since !== undefined ? { since } : { tail: f.tail }) }, (ack: Ack) => {
      if (!ack.ok) return f.onError(ack.error);
      f.joined = true;
    });
  }

  /** Follows a board's or run's log: the last `tail` lines (or the lines after `since`), then live lines. */
  follow(
    room: "board" | "run",
    id: string,
    opts: { since?: string; tail?: number },
    onLines: (lines: readonly RoomLine[]) => void,
    onError: (message: string) => void = () => {},
  ): LogSubscription {
    const key = `${room}:${id}`;
    this.follows.get(key) && this.unfollow(key);
    const f: Follow = { room, id, cursor: opts.since, tail: opts.tail ?? 1000, onLines, onError, joined: false };
    this.follows.set(key, f);
    if (this.socket.connected) this.join(f);
    return {
      get cursor() {
        return f.cursor;
      },
      close: () => {
        if (this.follows.get(key) === f) this.unfollow(key);
      },
    };
  }

  private unfollow(key: string): void {
    const f = this.follows.get(key);
    this.follows.delete(key);
    if (f && this.socket.connected) this.socket.emit("leave", { room: f.room, id: f.id }, () => {});
  }

  onChange(fn: (c: ChangeEvent) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  onState(fn: (s: Connection) => void): () => void {
    this.stateListeners.add(fn);
    return () => this.stateListeners.delete(fn);
  }

  /** After a reconnect: change events may have been missed, so views refetch. */
  onReconnect(fn: () => void): () => void {
    this.reconnectListeners.add(fn);
    return () => this.reconnectListeners.delete(fn);
  }

  /** Drops the connection as a network fault would; socket.io reconnects and every room resumes. */
  dropConnection(): void {
    this.socket.io.engine?.close();
  }

  close(): void {
    this.setState("signed-out");
    this.socket.disconnect();
  }
}
