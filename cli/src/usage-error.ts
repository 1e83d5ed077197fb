/** Thrown by a command for a bad combination of options: exit 64. */
export class UsageError extends Error {
  override name = "UsageError";
}
