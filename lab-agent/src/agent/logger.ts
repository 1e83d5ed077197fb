import { pino } from "pino";

/** The little the agent needs from a logger; pino satisfies it, tests can pass a silent one. */
export interface AgentLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  child(bindings: Record<string, unknown>): AgentLogger;
}

/** JSON lines on stderr, so stdout stays free for a command's own output. */
export function createAgentLogger(agent: string, level = "info"): AgentLogger {
  return pino({ level, base: { agent } }, pino.destination(2));
}

export const silentLogger: AgentLogger = {
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};
