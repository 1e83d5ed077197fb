/** Ctrl-]: the local escape key of `hil console`, as in telnet. */
export const ESCAPE_KEY = 0x1d;

/** The API takes at most this many bytes of console input per request. */
export const CONSOLE_INPUT_MAX_BYTES = 4096;

/**
 * Splits what is typed in a raw terminal into bytes for the board and the local quit. Ctrl-] arms the escape:
 * then `q` quits, a second Ctrl-] sends one Ctrl-] to the board, and any other key sends both (so nothing typed
 * is lost). The escape may be split across reads.
 */
export class ConsoleEscape {
  private armed = false;

  feed(chunk: Uint8Array): { send: Buffer; quit: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (this.armed) {
        this.armed = false;
        if (b === 0x71 || b === 0x51) return { send: Buffer.from(out), quit: true };
        if (b !== ESCAPE_KEY) out.push(ESCAPE_KEY);
        out.push(b);
      } else if (b === ESCAPE_KEY) {
        this.armed = true;
      } else {
        out.push(b);
      }
    }
    return { send: Buffer.from(out), quit: false };
  }
}

/**
 * Keystrokes sent in batches: what is typed within `everyMs` goes in one request, requests go one at a time in
 * order, and none carries more than the API's limit. A failed request is handed to `onError` once; what was
 * typed after it is dropped, since the session ends on it.
 */
export class KeystrokeBatcher {
  private pending: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(
    private readonly post: (bytes: Buffer) => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly everyMs = 20,
  ) {}

  push(bytes: Buffer): void {
    if (bytes.length === 0 || this.failed) return;
    this.pending.push(bytes);
    this.timer ??= setTimeout(() => void this.flush(), this.everyMs);
  }

  /** Sends what is pending now; resolves once every request so far has been answered. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const all = Buffer.concat(this.pending);
    this.pending = [];
    for (let at = 0; at < all.length; at += CONSOLE_INPUT_MAX_BYTES) {
      const part = all.subarray(at, at + CONSOLE_INPUT_MAX_BYTES);
      this.chain = this.chain.then(async () => {
        if (this.failed) return;
        try {
          await this.post(part);
        } catch (err) {
          this.failed = true;
          this.onError(err);
        }
      });
    }
    return this.chain;
  }
}

/**
 * One line of text as console requests: pieces of at most `maxBytes` UTF-8 bytes (never splitting a character),
 * Enter after the last.
 */
export function linePieces(line: string, maxBytes = CONSOLE_INPUT_MAX_BYTES - 96): { text: string; newline: boolean }[] {
  const out: { text: string; newline: boolean }[] = [];
  let piece = "";
  let size = 0;
  for (const ch of line) {
    const n = Buffer.byteLength(ch);
    if (size + n > maxBytes) {
      out.push({ text: piece, newline: false });
      piece = "";
      size = 0;
    }
    piece += ch;
    size += n;
  }
  out.push({ text: piece, newline: true });
  return out;
}
