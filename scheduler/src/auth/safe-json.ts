/** JSON.parse that answers undefined instead of throwing: stored records are checked by a schema next. */
export function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
