import type { Board } from "@hil/contracts";
import type { Disposable } from "../links/serial-link.js";

/**
 * Where the agent's boards come from: the inventory (discovered + virtual boards) or the
 * instant boards of the dispatch benchmark. The agent owns registration; the provider only
 * says which boards exist and hands out targets.
 */
export interface BoardProvider {
  /** Boards as this machine sees them now (state idle or offline). */
  list(): Board[];
  /** A board appeared (plugged in, virtual board started) or came back. */
  onAdded(listener: (board: Board) => void): Disposable;
  /** A board left (unplugged, virtual board stopped). */
  onRemoved(listener: (boardId: string, reason: string) => void): Disposable;
  /** A board still known here became unusable (an Android device offline, unauthorized or gone from adb); it returns through onAdded. */
  onStateChanged?(listener: (boardId: string, state: "offline" | "unauthorized", reason: string) => void): Disposable;
  /** Devices seen but registered as no board, and why (shown in the agent's heartbeat). */
  unmatched?(): { serial: string; state: string; reason: string }[];
  close(): Promise<void>;
}
