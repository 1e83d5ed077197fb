import type { Duplex } from "node:stream";
import { LAB_HEALTH_ACTOR, LabError, toLabError, type AgentCommand, type ArtifactRef, type LogLine } from "@hil/contracts";
import { linkAsDevice } from "../links/link-device.js";
import { Rfc2217Server } from "../links/rfc2217/rfc2217-server.js";
import type { Disposable, SerialLink } from "../links/serial-link.js";
import type { FlashImageFile, FlashOptions, FlashSummary } from "../runner/board-target.js";
import type { LogShipper } from "./log-shipper.js";
import type { AgentLogger } from "./logger.js";

/** What an idle console needs of a board target (an `Esp32Target` is one). */
export interface ConsoleTarget {
  readonly console: { onLine(listener: (line: LogLine) => void): Disposable };
  readonly link: Pick<SerialLink, "write" | "onClose" | "onData" | "setSignals" | "setBaudRate">;
  reset(mode: "run" | "download"): Promise<void>;
  flash(images: FlashImageFile[], opts: FlashOptions): Promise<FlashSummary | void>;
  close(): Promise<void>;
}

/** Opens a board's link and console, continuing its sequence at `startSeq`. */
export type ConsoleOpener = (boardId: string, startSeq: number) => Promise<ConsoleTarget>;

export interface BoardConsolesDeps {
  open: ConsoleOpener;
  shipper: LogShipper;
  /** A local file for an artifact (the agent's cache); needed for flash commands. */
  artifactFile?: (ref: ArtifactRef) => Promise<string>;
  /** Connects to the scheduler's end of serial tunnel `id` (a WebSocket as a byte stream); needed for serial commands. */
  openTunnel?: (id: string) => Promise<Duplex>;
  logger: AgentLogger;
  /**
   * Powers a board off and on (a virtual board's own power-cycle); resolves with what was done. Absent, or
   * throwing STEP_UNSUPPORTED: this agent cannot switch the board's power (no USB hub port control).
   */
  powerCycle?: (boardId: string) => Promise<string>;
}

/** How long a lab command waits for the run that just ended to give the board back (its report comes first). */
const LAB_COMMAND_WAIT_MS = 30_000;

/** Commands older than this are stale (the agent was busy or away); acting on them would surprise the holder. */
const COMMAND_MAX_AGE_MS = 60_000;

interface Slot {
  target: ConsoleTarget | undefined;
  subs: Disposable[];
  /** A job has the board's link; the idle console stays closed until it gives it back. */
  held: boolean;
  gone: boolean;
  /** Every open, close and command on this board runs after the previous one. */
  queue: Promise<void>;
  /** A remote client's RFC 2217 session on this board's link (`hil serial`), at most one. */
  tunnel: { stream: Duplex; server: Rfc2217Server } | undefined;
}

/**
 * Keeps a console open on each board no job holds, shipping its lines through the board's log
 * (run = null), and carries out the holder's commands on it: console input, reset, flash. A job
 * takes a board's link over with `hold` (the idle console closes first) and gives it back with
 * `release` (the console opens again). Outcomes are written to the board's log as agent lines.
 */
export class BoardConsoles {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly deps: BoardConsolesDeps) {}

  /** A board the agent now owns: open its console unless a job holds it. */
  start(boardId: string): Promise<void> {
    const slot = this.slot(boardId);
    slot.gone = false;
    return this.serial(slot, () => this.openIdle(boardId, slot));
  }

  /** A job takes the board's link: resolves once the idle console is closed. */
  hold(boardIds: readonly string[]): Promise<void> {
    return Promise.all(
      boardIds.map((id) => {
        const slot = this.slot(id);
        slot.held = true;
        return this.serial(slot, () => this.closeIdle(slot));
      }),
    ).then(() => undefined);
  }

  /** The job is done with the boards: their consoles open again. */
  release(boardIds: readonly string[]): void {
    for (const id of boardIds) {
      const slot = this.slot(id);
      slot.held = false;
      void this.serial(slot, () => this.openIdle(id, slot));
    }
  }

  /** The board left the agent. */
  remove(boardId: string): Promise<void> {
    const slot = this.slot(boardId);
    slot.gone = true;
    return this.serial(slot, () => this.closeIdle(slot));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.slots.keys()].map((id) => this.remove(id)));
  }

  isOpen(boardId: string): boolean {
    return this.slots.get(boardId)?.target !== undefined;
  }

  /** Carries out a holder's command; the outcome (or why not) goes to the board's log. */
  execute(cmd: AgentCommand, now = Date.now()): Promise<void> {
    const slot = this.slots.get(cmd.board);
    if (!slot || slot.gone) {
      this.deps.logger.warn({ board: cmd.board, command: cmd.id }, "command for a board this agent does not have; ignored");
      return Promise.resolve();
    }
    return this.serial(slot, async () => {
      if (now - cmd.at > COMMAND_MAX_AGE_MS) {
        this.note(cmd.board, `${cmd.type} from ${cmd.actor} dropped: it waited ${Math.round((now - cmd.at) / 1000)} s for the agent; send it again`);
        return;
      }
      const lab = cmd.actor === LAB_HEALTH_ACTOR;
      // the lab's recovery step follows the report of the run that failed; the run's job lets go of the board just after
      if (lab) await waitUntilFree(slot, LAB_COMMAND_WAIT_MS);
      if (slot.held) {
        this.note(cmd.board, `${cmd.type} from ${cmd.actor} refused: a run holds the board; try again when it is idle`);
        if (lab) this.note(cmd.board, `command ${cmd.id} (${cmd.type}) failed: a run holds the board`);
        return;
      }
      try {
        let done = "";
        if (cmd.type === "console") await this.consoleInput(cmd.board, slot, Buffer.from(cmd.bytes, "base64"));
        else if (cmd.type === "reset") await this.reset(cmd.board, slot, cmd.mode, cmd.actor);
        else if (cmd.type === "serial") await this.serialTunnel(cmd.board, slot, cmd.tunnel, cmd.actor);
        else if (cmd.type === "power-cycle") done = await this.powerCycle(cmd.board, slot, cmd.actor);
        else await this.flash(cmd.board, slot, cmd.artifact, cmd.offset, cmd.actor);
        if (lab) this.note(cmd.board, `command ${cmd.id} (${cmd.type}) finished${done ? `: ${done}` : ""}`);
      } catch (err) {
        const e = toLabError(err);
        this.note(cmd.board, `${cmd.type} from ${cmd.actor} failed (${e.code}): ${e.message}`);
        if (lab) this.note(cmd.board, `command ${cmd.id} (${cmd.type}) failed: (${e.code}) ${e.message}`);
        this.deps.logger.warn({ board: cmd.board, command: cmd.id, code: e.code, err: e.message }, "holder command failed");
      }
    });
  }

  /** The console closes first (the link goes away with the power), and opens again on the next use. */
  private async powerCycle(boardId: string, slot: Slot, actor: string): Promise<string> {
    if (!this.deps.powerCycle) throw new LabError("STEP_UNSUPPORTED", "this agent cannot switch board power (no USB hub port control)");
    this.note(boardId, `power-cycle by ${actor}`);
    await this.closeIdle(slot);
    return this.deps.powerCycle(boardId);
  }

  private async consoleInput(boardId: string, slot: Slot, bytes: Buffer): Promise<void> {
    const target = await this.ensureOpen(boardId, slot);
    await target.link.write(new Uint8Array(bytes));
  }

  private async reset(boardId: string, slot: Slot, mode: "run" | "download", actor: string): Promise<void> {
    const target = await this.ensureOpen(boardId, slot);
    this.note(boardId, `reset into ${mode} mode by ${actor}`);
    await target.reset(mode);
  }

  private async flash(boardId: string, slot: Slot, artifact: ArtifactRef, offset: number, actor: string): Promise<void> {
    if (!this.deps.artifactFile) throw new Error("this agent has no artifact store to flash from");
    const hex = `0x${offset.toString(16)}`;
    this.note(boardId, `flash of ${artifact.sha256.slice(0, 12)} (${artifact.size} bytes) at ${hex} by ${actor}: fetching the image`);
    const path = await this.deps.artifactFile(artifact);
    await this.closeIdle(slot);
    this.note(boardId, "console closed for the flash");
    // the new console listens from the start; it stays paused while the ROM loader owns the link
    const target = await this.openTarget(boardId, slot);
    let shown = -1;
    try {
      // otadata reset too (the default): a recovery reflash must boot the known-good app, not a stale OTA slot
      const summary = await target.flash([{ name: artifact.filename ?? artifact.sha256.slice(0, 12), path, offset }], {
        erase: false,
        otadata: "reset",
        onProgress: (written, total) => {
          const pct = total === 0 ? 100 : Math.floor((written / total) * 100);
          const step = Math.floor(pct / 10) * 10;
          if (step <= shown) return;
          shown = step;
          this.note(boardId, `flash progress ${step}% (${written} of ${total} bytes)`);
        },
      });
      const otadata = summary?.otadataReset ? `; otadata: ${summary.otadata}` : "";
      this.note(boardId, `flash finished: ${artifact.size} bytes at ${hex}${otadata}; console open again`);
    } catch (err) {
      this.note(boardId, "console open again after the failed flash");
      throw err;
    }
  }

  /**
   * The holder's own tools on the board: the scheduler relays a WebSocket from `hil serial`, and here an
   * RFC 2217 server speaks on it over the board's open link, so the console capture goes on recording
   * what the board prints (into the board's log) while the remote client drives it.
   */
  private async serialTunnel(boardId: string, slot: Slot, tunnel: string, actor: string): Promise<void> {
    if (!this.deps.openTunnel) throw new Error("this agent was started without the scheduler's URL, so it cannot serve a serial tunnel");
    this.closeTunnel(slot);
    const target = await this.ensureOpen(boardId, slot);
    const stream = await this.deps.openTunnel(tunnel);
    const server = new Rfc2217Server(linkAsDevice(target.link, (err) => this.deps.logger.warn({ board: boardId, err: err.message }, "serial tunnel: the link refused a change")), { port: 0 });
    const session = { stream, server };
    slot.tunnel = session;
    server.serve(stream, `tunnel ${tunnel}`);
    this.note(boardId, `serial port opened by ${actor} through the lab (RFC 2217); this log keeps recording what the board prints`);
    stream.once("close", () => {
      void server.close();
      if (slot.tunnel !== session) return;
      slot.tunnel = undefined;
      this.note(boardId, `serial port of ${actor} closed`);
    });
  }

  private closeTunnel(slot: Slot): void {
    const t = slot.tunnel;
    slot.tunnel = undefined;
    if (!t) return;
    t.stream.destroy();
    void t.server.close();
  }

  private async ensureOpen(boardId: string, slot: Slot): Promise<ConsoleTarget> {
    return slot.target ?? (await this.openTarget(boardId, slot));
  }

  private async openIdle(boardId: string, slot: Slot): Promise<void> {
    if (slot.held || slot.gone || slot.target) return;
    try {
      await this.openTarget(boardId, slot);
    } catch (err) {
      // the next command (or the end of the next run) tries again
      this.deps.logger.warn({ board: boardId, err: (err as Error).message }, "could not open the idle console");
    }
  }

  private async openTarget(boardId: string, slot: Slot): Promise<ConsoleTarget> {
    const { shipper } = this.deps;
    const target = await this.deps.open(boardId, shipper.nextSeq(boardId));
    slot.target = target;
    slot.subs.push(
      target.console.onLine((line) => void shipper.append({ ...line, run: null })),
      // the link went away under the console (board unplugged, server dropped): reopen on demand
      target.link.onClose(() => {
        if (slot.target !== target) return;
        slot.target = undefined;
        this.closeTunnel(slot);
        for (const s of slot.subs.splice(0)) s.dispose();
        void target.close().catch(() => undefined);
      }),
    );
    return target;
  }

  private async closeIdle(slot: Slot): Promise<void> {
    this.closeTunnel(slot);
    const target = slot.target;
    slot.target = undefined;
    for (const s of slot.subs.splice(0)) s.dispose();
    if (target) await target.close().catch((err: Error) => this.deps.logger.warn({ err: err.message }, "closing an idle console failed"));
  }

  private note(boardId: string, text: string): void {
    const { shipper } = this.deps;
    shipper.append({ board: boardId, run: null, seq: shipper.nextSeq(boardId), mono: performance.now(), wall: Date.now(), stream: "agent", text });
  }

  private slot(boardId: string): Slot {
    let slot = this.slots.get(boardId);
    if (!slot) {
      slot = { target: undefined, subs: [], held: false, gone: false, queue: Promise.resolve(), tunnel: undefined };
      this.slots.set(boardId, slot);
    }
    return slot;
  }

  private serial(slot: Slot, fn: () => Promise<void>): Promise<void> {
    const next = slot.queue.then(fn, fn);
    slot.queue = next.catch(() => undefined);
    return next;
  }
}

/** Resolves once no job holds the slot's board, or after `ms`. */
async function waitUntilFree(slot: Slot, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (slot.held && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
}
