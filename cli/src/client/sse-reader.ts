export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Splits a Server-Sent Events body into events (the subset the scheduler sends: id, event,
 * data, comments). Multi-line data is joined with newlines, as the spec says.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  let current: { id?: string; event?: string; data: string[] } = { data: [] };
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).replace(/\r$/, "");
        buffer = buffer.slice(nl + 1);
        if (line === "") {
          if (current.data.length > 0) {
            const ev: SseEvent = { data: current.data.join("\n") };
            if (current.id !== undefined) ev.id = current.id;
            if (current.event !== undefined) ev.event = current.event;
            yield ev;
          }
          current = { data: [] };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") current.data.push(value);
        else if (field === "id") current.id = value;
        else if (field === "event") current.event = value;
      }
    }
  } finally {
    reader.releaseLock();
  }
}
