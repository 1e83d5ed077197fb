/**
 * The archive files' format (a run's long log, a board's day files): one stream entry per line,
 * `{"id":"<stream entry id>","json":"<the entry's json field>"}`, appended as the stream is copied.
 */
export function archiveRows(batch: readonly [string, string[]][]): string {
  return batch.map(([id, fields]) => JSON.stringify({ id, json: fields[fields.indexOf("json") + 1] ?? null })).join("\n") + "\n";
}

/**
 * The entries of an archive file in file order: `null` for a row that is not JSON (a write a full disk cut short),
 * rows without an id left out. A range copied twice appears twice; readers keep ids that increase.
 */
export function* readArchiveRows(raw: string): Generator<{ id: string; json: string | undefined } | null> {
  for (const row of raw.split("\n")) {
    if (!row) continue;
    let entry: { id?: unknown; json?: unknown };
    try {
      entry = JSON.parse(row) as { id?: unknown; json?: unknown };
    } catch {
      yield null;
      continue;
    }
    if (typeof entry.id !== "string") continue;
    yield { id: entry.id, json: typeof entry.json === "string" ? entry.json : undefined };
  }
}
