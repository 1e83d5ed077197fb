/** A configuration that cannot work (the CLI maps it to exit 64). */
export class UsageError extends Error {
  override name = "AgentUsageError";
}
