import { AgentCommandSchema, type AgentCommand } from "@hil/contracts";
import type { RedisClient } from "@hil/lab-protocol/redis";
import type { AgentLogger } from "./logger.js";

const BLOCK_MS = 5_000;

/**
 * Follows the agent's command stream (`keys.agentCommands(agent)`, written by schedulers only: the
 * agent's Redis user and theirs are the only ones with that key) from the moment it starts; commands
 * queued while the agent was away are not replayed. Each entry is handed to `onCommand` in order.
 */
export class AgentCommandReader {
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    /** A connection of its own: XREAD BLOCK holds it. */
    private readonly redis: RedisClient,
    private readonly stream: string,
    private readonly onCommand: (cmd: AgentCommand) => Promise<void>,
    private readonly logger: AgentLogger,
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.follow();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.redis.disconnect();
    await this.loop;
  }

  private async follow(): Promise<void> {
    // "$" only on the first read: afterwards the last id seen, so nothing between two reads is missed
    let last = "$";
    while (this.running) {
      let res: [string, [string, string[]][]][] | null;
      try {
        res = (await this.redis.xread("COUNT", 100, "BLOCK", BLOCK_MS, "STREAMS", this.stream, last)) as typeof res;
      } catch (err) {
        if (!this.running) return;
        this.logger.warn({ err: (err as Error).message }, "reading the command stream failed; retrying");
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      for (const [, entries] of res ?? []) {
        for (const [id, fields] of entries) {
          last = id;
          const json = fields[fields.indexOf("json") + 1];
          let cmd: AgentCommand;
          try {
            cmd = AgentCommandSchema.parse(JSON.parse(json ?? ""));
          } catch {
            this.logger.warn({ entry: id }, "command stream entry is not an AgentCommand; ignored");
            continue;
          }
          // a board's commands run in order; different boards do not wait for each other
          void this.onCommand(cmd).catch((err: Error) => this.logger.error({ entry: id, err: err.message }, "command failed"));
        }
      }
    }
  }
}
