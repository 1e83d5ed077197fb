import { hostname } from "node:os";
import { duplicateClient, type RedisClient } from "@hil/lab-protocol/redis";
import type { AgentEvent } from "@hil/contracts";
import type { SchedulerContext } from "../context.js";
import { AgentKeyring } from "../auth/agent-keyring.js";
import { BoardEvents } from "./board-events.js";
import { DeadLetters, decodeEvent, MAX_DELIVERIES } from "./dead-letters.js";
import { EventVerifier } from "./event-verifier.js";
import type { RunLifecycle } from "./run-lifecycle.js";

export const CONSUMER_GROUP = "schedulers";
/** Entries a consumer has held this long without XACK belong to a dead replica: take them over. */
const CLAIM_IDLE_MS = 30_000;
const MAX_BATCHES = 4;

/**
 * Reads agent events through the `schedulers` consumer group: each event is applied once, by one
 * replica. Handlers are idempotent (they check the run's attempt and state), so a replay after a
 * crash between apply and XACK does no harm.
 */
export class EventConsumer {
  private readonly conn: RedisClient;
  private readonly name = `${hostname()}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  private lastClaim = 0;
  private readonly batches = new Set<Promise<void>>();
  private readonly dead: DeadLetters;
  private readonly verifier: EventVerifier;
  private readonly boardEvents: BoardEvents;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly ctx: SchedulerContext,
    private readonly lifecycle: RunLifecycle,
  ) {
    this.conn = duplicateClient(ctx.redis);
    this.conn.on("error", () => {});
    this.dead = new DeadLetters(ctx.redis, ctx.keys, ctx.log);
    const keyring = new AgentKeyring(ctx.tokens);
    this.unsubscribe = ctx.tokens.onChange(() => keyring.invalidate());
    this.verifier = new EventVerifier(keyring, ctx.config.agentAuth);
    this.boardEvents = new BoardEvents(ctx);
  }

  async start(): Promise<void> {
    await this.createGroup();
    this.done = this.loop();
  }

  /** From the stream's first entry: after Redis lost its data, every event the agents wrote since is read. */
  private async createGroup(): Promise<void> {
    try {
      await this.ctx.redis.xgroup("CREATE", this.ctx.keys.events(), CONSUMER_GROUP, "0", "MKSTREAM");
    } catch (err) {
      if (!(err instanceof Error) || !err.message.includes("BUSYGROUP")) throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe();
    this.conn.disconnect();
    await this.done;
    await Promise.all([...this.batches]);
    // leave no dead consumer behind, unless it still holds entries another replica must claim
    try {
      const pending = (await this.ctx.redis.xpending(this.ctx.keys.events(), CONSUMER_GROUP, "-", "+", 1, this.name)) as unknown[];
      if (pending.length === 0) await this.ctx.redis.xgroup("DELCONSUMER", this.ctx.keys.events(), CONSUMER_GROUP, this.name);
    } catch {
      // Redis already gone: nothing to tidy
    }
  }

  private async loop(): Promise<void> {
    const stream = this.ctx.keys.events();
    while (!this.stopped) {
      try {
        if (Date.now() - this.lastClaim > CLAIM_IDLE_MS / 2) {
          this.lastClaim = Date.now();
          const claimed = (await this.conn.xautoclaim(stream, CONSUMER_GROUP, this.name, CLAIM_IDLE_MS, "0-0", "COUNT", 100)) as [string, [string, string[]][]];
          await this.applyAll(claimed[1] ?? []);
        }
        const res = (await this.conn.xreadgroup("GROUP", CONSUMER_GROUP, this.name, "COUNT", 200, "BLOCK", 1000, "STREAMS", stream, ">")) as
          | [string, [string, string[]][]][]
          | null;
        for (const [, entries] of res ?? []) {
          // Keep reading while earlier batches are applied: a board freed by the next event should
          // not wait for the previous batch's slowest update. Handlers tolerate reordering across
          // batches (a late job-started after job-finished is a no-op).
          const p: Promise<void> = this.applyAll(entries)
            .catch((err: unknown) => this.ctx.log.error({ err }, "applying agent events failed; they stay pending and are claimed again"))
            .finally(() => this.batches.delete(p));
          this.batches.add(p);
          if (this.batches.size >= MAX_BATCHES) await Promise.race(this.batches);
        }
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof Error && err.message.includes("NOGROUP")) {
          // Redis lost its data (restarted without AOF, flushed): the stream and the group are gone
          this.ctx.log.warn("the agent-event consumer group is gone (Redis lost its data?); creating it again");
          this.ctx.wake(true);
          try {
            await this.createGroup();
            continue;
          } catch (again) {
            this.ctx.log.error({ err: again }, "could not create the agent-event consumer group; retrying in 1 s");
          }
        }
        this.ctx.log.error({ err }, "reading agent events failed; retrying in 1 s");
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async applyAll(entries: [string, string[]][]): Promise<void> {
    if (entries.length === 0) return;
    // Events of one run stay in order; different runs proceed together.
    const byRun = new Map<string, { id: string; fields: string[]; ev: AgentEvent }[]>();
    const done: string[] = [];
    for (const [id, fields] of entries) {
      const decoded = decodeEvent(fields);
      if (!decoded.ok) {
        // a retry cannot repair it: move it aside now, so it neither blocks the batch nor comes back
        await this.dead.put(id, fields, decoded.reason);
        done.push(id);
        continue;
      }
      const ev = decoded.ev;
      // an event that does not prove its author is never applied (docs/security.md, "Agents")
      const rejected = await this.verifier.reject(fields, ev);
      if (rejected) {
        await this.dead.put(id, fields, rejected);
        done.push(id);
        continue;
      }
      const key = ev.type === "job-finished" ? ev.result.runId : "runId" in ev ? ev.runId : "";
      const list = byRun.get(key) ?? [];
      list.push({ id, fields, ev });
      byRun.set(key, list);
    }
    await Promise.all(
      [...byRun.values()].map(async (list) => {
        for (const { id, fields, ev } of list) {
          try {
            await this.apply(ev);
          } catch (err) {
            const n = await this.dead.deliveries(this.ctx.keys.events(), CONSUMER_GROUP, id);
            if (n < MAX_DELIVERIES) {
              // left pending (so are the run's later events, to keep their order): claimed and tried again
              this.ctx.log.error({ err, id, deliveries: n }, "applying an agent event failed; it stays pending and is tried again");
              return;
            }
            await this.dead.put(id, fields, `its handler failed ${n} times: ${(err as Error).message}`);
          }
          done.push(id);
        }
      }),
    );
    if (done.length) await this.ctx.redis.xack(this.ctx.keys.events(), CONSUMER_GROUP, ...done);
  }

  private async apply(ev: AgentEvent): Promise<void> {
    switch (ev.type) {
      case "job-started":
        return this.lifecycle.started(ev.runId, ev.attempt, ev.at, ev);
      case "step-finished":
        return this.lifecycle.stepFinished(ev.runId, ev.attempt, ev.step, ev);
      case "job-finished":
        await this.lifecycle.finished(ev.result, { by: ev });
        return;
      case "board-changed":
        return this.boardEvents.changed(ev);
      case "board-gone":
        return this.boardEvents.gone(ev);
    }
  }
}
